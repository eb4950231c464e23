"""Bad input gets OpenAI's status codes and error body; bad configuration stops startup with a reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.llm_gateway.conftest import GatewayFactory
from tests.support.servers import RunningServer, free_port, start_uvicorn


def post(server: RunningServer, content: bytes | str) -> httpx.Response:
    return httpx.post(
        f"{server.url}/v1/chat/completions", content=content, headers={"Content-Type": "application/json"}
    )


@pytest.mark.parametrize(
    ("body", "param", "fragment"),
    [
        ('{"model": "offline"}', "messages", "Missing required parameter: 'messages'"),
        ('{"messages": [{"role": "user", "content": "x"}]}', "model", "Missing required parameter: 'model'"),
        (
            '{"model": "offline", "messages": [{"role": "robot", "content": "x"}]}',
            "messages.0.role",
            "Invalid",
        ),
        ('{"model": "offline", "messages": "hi"}', "messages", "Invalid"),
        ('{"model": "offline", "messages": [{"role": "user"}], "temperature": 9}', "temperature", "Invalid"),
        (
            '{"model": "offline", "messages": [{"role": "user"}], "tools": [{"type": "function"}]}',
            "tools.0.function",
            "Missing",
        ),
    ],
)
def test_invalid_body_is_400_naming_the_parameter(gateway: RunningServer, body: str, param: str, fragment: str) -> None:
    response = post(gateway, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param and fragment in error["message"]


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", ""])
def test_malformed_json_is_400(gateway: RunningServer, body: str) -> None:
    response = post(gateway, body)
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_unknown_model_is_404_model_not_found(gateway: RunningServer) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0).chat.completions.create(
            model="gpt-nope", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.code == "model_not_found"


def test_unknown_route_and_method_use_error_body(gateway: RunningServer) -> None:
    missing = httpx.post(f"{gateway.url}/v1/nothing", json={})
    assert missing.status_code == 404 and "Invalid URL" in missing.json()["error"]["message"]
    wrong = httpx.get(f"{gateway.url}/v1/chat/completions")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    assert set(wrong.json()["error"]) == {"message", "type", "param", "code"}


HELLO_PREFIX = '{"model": "offline", "messages": [{"role": "user", "content": "x"}], '


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (HELLO_PREFIX + '"temperature": NaN}', "not valid JSON"),
        (HELLO_PREFIX + '"top_p": Infinity}', "not valid JSON"),
        ('{"model": "offline", "messages": [{"role": "user", "content": "\\ud800"}]}', "not valid JSON"),
        (HELLO_PREFIX + '"metadata": ' + "[" * 5000 + "]" * 5000 + "}", "not valid JSON"),
        # Within the parser's depth limit, and still far too deep to pass on upstream.
        (HELLO_PREFIX + '"metadata": ' + '{"a":' * 990 + "1" + "}" * 990 + "}", "nested more than"),
        (
            HELLO_PREFIX
            + '"tools": [{"type": "function", "function": {"name": "f", "parameters": '
            + '{"a":' * 500
            + "1"
            + "}" * 500
            + "}}]}",
            "nested more than",
        ),
    ],
)
def test_json_a_lenient_parser_would_take_is_400(gateway: RunningServer, body: str, fragment: str) -> None:
    response = post(gateway, body)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]["message"]


def test_a_body_over_the_limit_is_413(start_gateway: GatewayFactory) -> None:
    server = start_gateway(env={"TOOLMESH_GATEWAY_MAX_BODY_BYTES": "4096"})
    content = HELLO_PREFIX + '"user": "' + "x" * 5000 + '"}'
    declared = post(server, content)
    assert declared.status_code == 413 and "4096 bytes" in declared.json()["error"]["message"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
        yield content.encode()

    streamed = httpx.post(
        f"{server.url}/v1/chat/completions", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    small = post(server, '{"model": "default", "messages": [{"role": "user", "content": "x"}]}')
    assert small.status_code == 200, small.text


def test_bad_timeout_header_is_400(gateway: RunningServer) -> None:
    response = httpx.post(
        f"{gateway.url}/v1/chat/completions",
        headers={"X-Toolmesh-Timeout": "soon"},
        json={"model": "offline", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "x-toolmesh-timeout"


def test_embeddings_bad_input_is_400(gateway: RunningServer) -> None:
    response = httpx.post(f"{gateway.url}/v1/embeddings", json={"model": "offline", "input": {"a": 1}})
    assert response.status_code == 400 and response.json()["error"]["param"] == "input"


def test_invalid_config_stops_startup_with_reason(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("models:\n  default:\n    deployments:\n      - provider: openai\n")
    with pytest.raises(RuntimeError, match="needs base_url"):
        start_uvicorn(
            "llm_gateway.main:app",
            log_path=tmp_path / "log",
            timeout=20,
            env={"TOOLMESH_GATEWAY_CONFIG": str(config), "TOOLMESH_GATEWAY_DB": str(tmp_path / "db")},
        )


def test_missing_key_env_stops_startup(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "models:\n  default:\n    deployments:\n      - {provider: azure, endpoint: 'http://x', "
        "deployment: d, api_version: v, api_key_env: TOOLMESH_TEST_UNSET_KEY}\n"
    )
    with pytest.raises(RuntimeError, match="TOOLMESH_TEST_UNSET_KEY is not set"):
        start_uvicorn(
            "llm_gateway.main:app",
            log_path=tmp_path / "log",
            port=free_port(),
            timeout=20,
            env={"TOOLMESH_GATEWAY_CONFIG": str(config), "TOOLMESH_GATEWAY_DB": str(tmp_path / "db")},
        )


def test_openai_env_makes_default_the_upstream(start_gateway: GatewayFactory, fake_upstream: RunningServer) -> None:
    server = start_gateway(
        env={
            "OPENAI_BASE_URL": f"{fake_upstream.url}/v1",
            "OPENAI_API_KEY": "sk-upstream",
            "OPENAI_MODEL": "fake-gpt",
        }
    )
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="k", max_retries=0)
    assert client.chat.completions.create(model="default", messages=[{"role": "user", "content": "x"}]).model == (
        "fake-gpt"
    )
    assert client.models.retrieve("default").owned_by == "toolmesh:openai"


def test_prompts_logged_only_when_turned_on(start_gateway: GatewayFactory) -> None:
    server = start_gateway(env={"TOOLMESH_GATEWAY_LOG_PROMPTS": "true"})
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="k", max_retries=0)
    client.chat.completions.create(model="default", messages=[{"role": "user", "content": "visible-prompt-42"}])
    deadline = time.monotonic() + 3
    while "visible-prompt-42" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "visible-prompt-42" in server.log()
