"""The API client's edges: error bodies in every shape, ids kept in one path segment, the key header."""

from __future__ import annotations

import httpx
import pytest

from toolmesh_cli.client import ApiClient
from toolmesh_cli.config import ApiTarget
from toolmesh_cli.errors import ApiConnectionError, ApiError, RunNotFoundError


def _client(handler: httpx.MockTransport, key: str | None = "k") -> ApiClient:
    return ApiClient(ApiTarget(url="http://api.test", key=key), transport=handler)


def test_contract_error_body_gives_message_and_field() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400, json={"error": {"message": "budgets.max_tokens: too small", "field": "budgets.max_tokens"}}
        )

    with pytest.raises(ApiError) as caught, _client(httpx.MockTransport(handler)) as client:
        client.start_run({"objective": "x"})
    assert caught.value.status == 400 and caught.value.field == "budgets.max_tokens"
    assert "too small" in str(caught.value)


def test_html_error_page_from_a_proxy_is_reported_with_its_status() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(502, text="<html>Bad gateway</html>"))
    with pytest.raises(ApiError, match="HTTP 502: <html>Bad gateway"), _client(transport) as client:
        client.list_runs()


def test_not_found_is_its_own_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(404, json={"detail": "nope"}))
    with pytest.raises(RunNotFoundError, match="nope"), _client(transport) as client:
        client.get_run("r1")


def test_non_json_success_is_a_connection_problem_not_a_crash() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="hello"))
    with pytest.raises(ApiConnectionError, match="non-JSON"), _client(transport) as client:
        client.get_run("r1")


def test_answer_of_the_wrong_shape_is_reported() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"status": "Running"}))
    with pytest.raises(ApiConnectionError, match="unexpected answer"), _client(transport) as client:
        client.get_run("r1")


def test_ids_stay_in_one_path_segment_and_the_key_is_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"id": "r", "status": "cancelling"})

    with _client(httpx.MockTransport(handler), key="secret") as client:
        client.approve("../../admin", "a/b?c", approve=False, comment="no")
        client.cancel("r 1")
    assert seen[0].url.raw_path == b"/api/runs/..%2F..%2Fadmin/approvals/a%2Fb%3Fc"
    assert seen[1].url.raw_path == b"/api/runs/r%201/cancel"
    assert seen[0].headers["x-functions-key"] == "secret"


def test_no_key_header_without_a_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    with _client(httpx.MockTransport(handler), key=None) as client:
        assert client.list_runs(status="Running", limit=5) == []
    assert "x-functions-key" not in seen[0].headers
    assert seen[0].url.params["status"] == "Running" and seen[0].url.params["limit"] == "5"
