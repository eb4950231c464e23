"""Calls land in the HTTP request exactly as the spec says (real echo service on loopback)."""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import httpx
import pytest

from openapi_engine import ToolResult, invoke
from tests.support.servers import RunningServer

SETTINGS = {"ECHO_KEY": "secret-key-123", "QueryKey": "q-secret", "CookieKey": "c-secret", "Bearer": "tok-1"}


async def call(
    fn, name: str, args: dict[str, Any], server: RunningServer, client: aiohttp.ClientSession, **kw: Any
) -> ToolResult:
    settings = kw.pop("settings", SETTINGS)
    return await invoke(fn(name), args, base_url=server.url, client=client, settings=settings, **kw)


def echoed(result: ToolResult) -> dict[str, Any]:
    assert result.ok, result
    data: dict[str, Any] = json.loads(result.body)
    return data


async def test_path_simple_style_encodes_arrays_and_objects(fn, echo_server, client) -> None:
    args = {"ids": [3, 4, 5], "obj": {"a": "x", "b": "y"}, "objx": {"a": "x", "b": "y"}}
    seen = echoed(await call(fn, "pathSimple", args, echo_server, client))
    assert seen["raw_path"] == "/path/simple/3,4,5/a,x,b,y/a=x,b=y"


async def test_path_label_style_prefixes_dots(fn, echo_server, client) -> None:
    args = {"v": "five", "arr": ["a", "b"], "arrx": ["a", "b"]}
    seen = echoed(await call(fn, "pathLabel", args, echo_server, client))
    assert seen["raw_path"] == "/path/label/.five/.a,b/.a.b"


async def test_path_matrix_style_uses_semicolons(fn, echo_server, client) -> None:
    args = {"v": "five", "arr": ["a", "b"], "objx": {"k": "v"}}
    seen = echoed(await call(fn, "pathMatrix", args, echo_server, client))
    assert seen["raw_path"] == "/path/matrix/;v=five/;arr=a;arr=b/;k=v"


async def test_path_values_are_percent_encoded_and_cannot_traverse(fn, echo_server, client) -> None:
    seen = echoed(await call(fn, "pathRaw", {"name": "../../admin?x=1#frag"}, echo_server, client))
    assert seen["raw_path"] == "/path/raw/%2E%2E%2F%2E%2E%2Fadmin%3Fx%3D1%23frag"
    assert seen["query"] == ""


async def test_query_styles_serialize_per_spec(fn, echo_server, client) -> None:
    args = {
        "tags": ["a", "b"],
        "csv": [1, 2],
        "spaced": ["x", "y"],
        "piped": ["x", "y"],
        "filter": {"status": "open", "owner": "me"},
        "flag": False,
        "limit": 5,
        "q": {"x": 1},
    }
    seen = echoed(await call(fn, "queryStyles", args, echo_server, client))
    assert seen["query"] == (
        "tags=a&tags=b&csv=1%2C2&spaced=x+y&piped=x%7Cy&filter%5Bstatus%5D=open&filter%5Bowner%5D=me"
        "&flag=false&limit=5&q=%7B%22x%22%3A1%7D"
    )
    parsed = httpx.QueryParams(seen["query"])
    assert parsed.get_list("tags") == ["a", "b"]
    assert parsed["csv"] == "1,2"
    assert parsed["spaced"] == "x y"
    assert parsed["piped"] == "x|y"
    assert parsed["filter[status]"] == "open" and parsed["filter[owner]"] == "me"
    assert parsed["flag"] == "false"
    assert json.loads(parsed["q"]) == {"x": 1}


async def test_header_and_cookie_parameters_are_sent(fn, echo_server, client) -> None:
    seen = echoed(await call(fn, "queryStyles", {"X-Trace": "t-1", "theme": "dark mode"}, echo_server, client))
    assert seen["headers"]["x-trace"] == "t-1"
    assert seen["headers"]["cookie"] == "theme=dark%20mode"


async def test_name_collisions_map_back_to_their_locations(fn, echo_server, client) -> None:
    function = fn("updateNote")
    assert {"id__path", "id__query", "id"} <= set(function.parameters["properties"])
    args = {"id__path": "n1", "id__query": "q1", "id": "b1", "title": "hello", "body": None}
    seen = echoed(await call(fn, "updateNote", args, echo_server, client))
    assert seen["method"] == "PUT"
    assert seen["raw_path"] == "/notes/n1"
    assert seen["query"] == "id=q1"
    assert json.loads(seen["body"]) == {"title": "hello", "body": None, "id": "b1"}
    assert seen["headers"]["content-type"] == "application/json"


async def test_strict_nulls_for_optional_fields_are_omitted(fn, echo_server, client) -> None:
    args = {"id__path": "n1", "id__query": None, "id": None, "title": "t", "body": None, "tags": None}
    seen = echoed(await call(fn, "updateNote", args, echo_server, client))
    assert seen["query"] == ""
    assert json.loads(seen["body"]) == {"title": "t", "body": None}


async def test_form_body_is_urlencoded_with_repeated_arrays(fn, echo_server, client) -> None:
    args = {"To": "+100", "Body": "hi there", "MediaUrl": ["u1", "u2"], "Enabled": True}
    seen = echoed(await call(fn, "postForm", args, echo_server, client))
    assert seen["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert seen["body"] == "To=%2B100&Body=hi+there&MediaUrl=u1&MediaUrl=u2&Enabled=true"


async def test_multipart_body_sends_file_parts_and_fields(fn, echo_server, client) -> None:
    payload = base64.b64encode(b"\x00\x01binary").decode()
    seen = echoed(await call(fn, "upload", {"file": "base64:" + payload, "caption": "pic"}, echo_server, client))
    assert seen["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    raw = seen["body"]
    raw_bytes = base64.b64decode(raw[7:]) if raw.startswith("base64:") else raw.encode()
    assert b'name="file"; filename="file"' in raw_bytes
    assert b"\x00\x01binary" in raw_bytes
    assert b'name="caption"\r\n\r\npic' in raw_bytes


async def test_text_body_is_sent_as_is(fn, echo_server, client) -> None:
    seen = echoed(await call(fn, "postText", {"body": "plain words"}, echo_server, client))
    assert seen["body"] == "plain words"
    assert seen["headers"]["content-type"] == "text/plain"


async def test_api_key_is_injected_from_settings_and_hidden_from_model(fn, echo_server, client) -> None:
    function = fn("publicGet")
    assert function.security == []
    seen = echoed(await call(fn, "pathRaw", {"name": "x"}, echo_server, client))
    assert seen["headers"]["x-api-key"] == "secret-key-123"
    assert "X-API-Key" not in json.dumps(fn("pathRaw").parameters)


async def test_query_and_cookie_keys_are_injected(fn, echo_server, client) -> None:
    seen = echoed(await call(fn, "secureQuery", {}, echo_server, client))
    assert seen["query"] == "api_key=q-secret"
    seen = echoed(await call(fn, "secureCookie", {}, echo_server, client))
    assert seen["headers"]["cookie"] == "session=c-secret"


async def test_bearer_and_basic_alternatives(fn, echo_server, client) -> None:
    function = fn("secureBearer")
    assert function.parameters["properties"] == {}, "Authorization header and token param must be hidden"
    seen = echoed(await call(fn, "secureBearer", {}, echo_server, client))
    assert seen["headers"]["authorization"] == "Bearer tok-1"
    seen = echoed(await call(fn, "secureBearer", {}, echo_server, client, settings={"Basic": "user:pw"}))
    assert seen["headers"]["authorization"] == "Basic " + base64.b64encode(b"user:pw").decode()


async def test_missing_credential_is_an_error_naming_the_setting(fn, echo_server, client) -> None:
    result = await call(fn, "pathRaw", {"name": "x"}, echo_server, client, settings={})
    assert not result.ok and result.status is None
    assert result.error is not None and "ECHO_KEY" in result.error and not result.retryable


async def test_callback_url_is_hidden_and_filled_in(fn, echo_server, client) -> None:
    function = fn("sendMessage")
    assert function.callback is not None
    assert function.callback.timeout_seconds == 86400
    assert "callback_url" not in function.parameters["properties"]
    args = {"to": "ann", "text": "hi"}
    seen = echoed(await call(fn, "sendMessage", args, echo_server, client, callback_url="http://cb/x"))
    assert json.loads(seen["body"]) == {"to": "ann", "text": "hi", "callback_url": "http://cb/x"}
    missing = await call(fn, "sendMessage", args, echo_server, client)
    assert not missing.ok and "callback URL" in (missing.error or "")


async def test_idempotency_key_header_is_sent(fn, echo_server, client) -> None:
    seen = echoed(await call(fn, "postText", {"body": "x"}, echo_server, client, idempotency_key="run1-call7"))
    assert seen["headers"]["idempotency-key"] == "run1-call7"


async def test_invalid_arguments_never_reach_the_service(fn, echo_server, client) -> None:
    result = await call(fn, "queryStyles", {"limit": 500, "nope": 1}, echo_server, client)
    assert not result.ok and result.status is None and not result.retryable
    assert result.error is not None
    assert "limit" in result.error and "'nope'" in result.error


async def test_http_errors_are_results_with_retry_hint(fn, echo_server, client) -> None:
    not_found = await call(fn, "getStatus", {"code": 404}, echo_server, client)
    assert not not_found.ok and not_found.status == 404 and not not_found.retryable
    assert not_found.body == "status 404"
    throttled = await call(fn, "getStatus", {"code": 429}, echo_server, client)
    assert throttled.retryable
    broken = await call(fn, "getStatus", {"code": 503}, echo_server, client)
    assert broken.retryable and broken.error is not None and "503" in broken.error


async def test_cross_host_redirect_is_refused(fn, echo_server, client) -> None:
    result = await call(fn, "redirectOut", {}, echo_server, client)
    assert not result.ok and result.status == 302
    assert result.error is not None and "example.com" in result.error


async def test_same_host_redirect_is_followed(fn, echo_server, client) -> None:
    seen = echoed(await call(fn, "redirectIn", {}, echo_server, client))
    assert seen["raw_path"] == "/public" and seen["query"] == "from=redirect"


async def test_timeout_is_a_retryable_result(fn, echo_server, client) -> None:
    result = await call(fn, "slow", {}, echo_server, client, timeout_seconds=0.3)
    assert not result.ok and result.retryable and result.status is None
    assert result.error is not None and "0.3" in result.error


async def test_unreachable_service_is_a_retryable_result(fn, client) -> None:
    from tests.support.servers import free_port

    result = await invoke(
        fn("publicGet"), {}, base_url=f"http://127.0.0.1:{free_port()}", client=client, settings=SETTINGS
    )
    assert not result.ok and result.retryable and "could not reach" in (result.error or "")


async def test_long_bodies_are_truncated_with_a_visible_note(fn, echo_server, client) -> None:
    result = await call(fn, "big", {}, echo_server, client, max_body_chars=100)
    assert result.ok and result.truncated
    assert result.body.startswith("x" * 100)
    assert result.body.endswith("…[truncated: showing 100 of 50000 characters; use limit to read the rest]")
    assert ToolResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


async def test_relative_server_url_is_kept_under_base_url(echo_server, client) -> None:
    from openapi_engine import convert_document

    spec = {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "servers": [{"url": "/base/{version}", "variables": {"version": {"default": "v2"}}}],
        "paths": {
            "/items": {"get": {"operationId": "listItems", "responses": {}}},
            "/other": {
                "servers": [{"url": "https://elsewhere.example/x"}],
                "get": {"operationId": "other", "responses": {}},
            },
        },
    }
    functions = {fn.name: fn for fn in convert_document(spec, "servers.json").functions}
    assert functions["listItems"].server_path == "/base/v2" and functions["other"].server_path == ""
    result = await invoke(functions["listItems"], {}, base_url=echo_server.url, client=client, settings={})
    assert echoed(result)["raw_path"] == "/base/v2/items"
    result = await invoke(functions["other"], {}, base_url=echo_server.url + "/", client=client, settings={})
    assert echoed(result)["raw_path"] == "/other"


async def test_file_fields_tell_the_model_how_to_send_bytes(fn) -> None:
    file_schema = fn("upload").parameters["properties"]["file"]
    assert file_schema["type"] == "string" and "'base64:'" in file_schema["description"]
    assert "format" not in file_schema


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\x00b", "a\x01b", "a\x7fb", "caf\u00e9", "a\u2028b"])
async def test_header_values_a_header_cannot_carry_are_refused(fn, echo_server, client, value: str) -> None:
    result = await call(fn, "queryStyles", {"X-Trace": value}, echo_server, client)
    assert not result.ok and result.status is None and not result.retryable
    assert "printable ASCII" in (result.error or "") and "line breaks" in (result.error or "")


async def test_invalid_base64_file_is_an_error(fn, echo_server, client) -> None:
    result = await call(fn, "upload", {"file": "base64:@@@"}, echo_server, client)
    assert not result.ok and "not valid base64" in (result.error or "")
