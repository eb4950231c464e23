"""Keys, per-key limits and the usage log, through a gateway with keys configured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.llm_gateway.conftest import GatewayFactory
from tests.support.servers import REPO_ROOT, RunningServer
from tests.support.waiting import wait_until

HELLO: Any = [{"role": "user", "content": "hello"}]


def key_cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llm_gateway.keys", *args],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={"TOOLMESH_GATEWAY_DB": str(db), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys") / "gateway.sqlite3"


@pytest.fixture(scope="module")
def small_key(db: Path) -> str:
    created = key_cli(db, "create", "small", "--tpm", "200")
    assert created.returncode == 0, created.stderr
    return created.stdout.strip()


@pytest.fixture(scope="module")
def secured(start_gateway: GatewayFactory, db: Path, small_key: str) -> RunningServer:
    config = {
        "models": {"default": {"deployments": [{"provider": "offline"}]}},
        "limits": {"rpm": 1000},
        "key_limits": {"burst": {"rpm": 3}},
    }
    return start_gateway(config, env={"TOOLMESH_GATEWAY_API_KEYS": "key-one,key-two"}, db=db, open_mode=False)


def sdk(server: RunningServer, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def test_missing_key_is_401(secured: RunningServer) -> None:
    response = httpx.post(f"{secured.url}/v1/chat/completions", json={"model": "default", "messages": HELLO})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert "didn't provide an API key" in response.json()["error"]["message"]


def test_wrong_key_is_401_and_masked(secured: RunningServer) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(secured, "key-three-secret").chat.completions.create(model="default", messages=HELLO)
    assert caught.value.code == "invalid_api_key"
    assert "key-three-secret" not in caught.value.message


def test_keys_never_stored_or_logged_in_clear(secured: RunningServer, db: Path, small_key: str) -> None:
    sdk(secured, small_key).chat.completions.create(model="default", messages=HELLO)
    assert small_key.encode() not in db.read_bytes()
    assert small_key not in secured.log() and "key-one" not in secured.log()
    assert "small" in key_cli(db, "list").stdout
    assert small_key not in key_cli(db, "list").stdout


def test_env_keys_and_managed_keys_accepted(secured: RunningServer, small_key: str) -> None:
    for key in ("key-one", "key-two", small_key):
        assert sdk(secured, key).chat.completions.create(model="default", messages=HELLO).model == "offline"


def test_key_created_and_revoked_while_running(secured: RunningServer, db: Path) -> None:
    key = key_cli(db, "create", "late").stdout.strip()
    assert sdk(secured, key).models.list().data
    assert key_cli(db, "revoke", "late").returncode == 0
    _eventually_refused(secured, key)  # within the running gateway's one-second re-read
    with pytest.raises(openai.AuthenticationError):
        sdk(secured, key).models.list()
    assert key_cli(db, "revoke", "late").returncode == 1


def test_requests_per_minute_limit_gives_429_with_retry_after(secured: RunningServer, db: Path) -> None:
    key = key_cli(db, "create", "burst").stdout.strip()
    client = sdk(secured, key)
    for _ in range(3):
        client.chat.completions.create(model="default", messages=HELLO)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="default", messages=HELLO)
    assert caught.value.code == "rate_limit_exceeded"
    assert caught.value.type == "requests"
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
    assert sdk(secured, "key-one").chat.completions.create(model="default", messages=HELLO)


def test_tokens_per_minute_limit_gives_429(secured: RunningServer, small_key: str) -> None:
    client = sdk(secured, small_key)
    big: Any = [{"role": "user", "content": "word " * 200}]
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="default", messages=big)
    assert caught.value.type == "tokens"


def test_usage_log_attributes_tokens_to_key_model_and_run(secured: RunningServer) -> None:
    client = sdk(secured, "key-two")
    answers = [
        client.chat.completions.create(
            model="default",
            messages=[{"role": "user", "content": f"q{i}"}],
            extra_headers={"X-Toolmesh-Run-Id": "run-usage-1"},
        )
        for i in range(3)
    ]
    client.chat.completions.create(model="default", messages=HELLO, extra_headers={"X-Toolmesh-Run-Id": "run-usage-2"})
    usage = httpx.get(
        f"{secured.url}/v1/usage",
        params={"run_id": "run-usage-1"},
        headers={"Authorization": "Bearer key-two"},
    ).json()
    assert usage["totals"]["requests"] == 3
    assert usage["totals"]["total_tokens"] == sum(a.usage.total_tokens for a in answers if a.usage)
    assert {r["run_id"] for r in usage["data"]} == {"run-usage-1"}
    assert {r["model"] for r in usage["data"]} == {"default"}
    assert all(r["estimated"] and r["deployment"] == "offline" for r in usage["data"])
    assert {r["key"] for r in usage["data"]} == {usage["data"][0]["key"]}


def test_usage_is_scoped_to_the_calling_key(secured: RunningServer) -> None:
    sdk(secured, "key-one").chat.completions.create(
        model="default", messages=HELLO, extra_headers={"X-Toolmesh-Run-Id": "run-scope"}
    )
    other = httpx.get(
        f"{secured.url}/v1/usage", params={"run_id": "run-scope"}, headers={"Authorization": "Bearer key-two"}
    ).json()
    mine = httpx.get(
        f"{secured.url}/v1/usage", params={"run_id": "run-scope"}, headers={"Authorization": "Bearer key-one"}
    ).json()
    assert other["totals"]["requests"] == 0 and mine["totals"]["requests"] == 1


def test_usage_counts_streams_from_their_usage_chunk(secured: RunningServer) -> None:
    client = sdk(secured, "key-one")
    chunks = list(
        client.chat.completions.create(
            model="default",
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers={"X-Toolmesh-Run-Id": "run-stream"},
        )
    )
    reported = chunks[-1].usage
    usage = httpx.get(
        f"{secured.url}/v1/usage",
        params={"run_id": "run-stream"},
        headers={"Authorization": "Bearer key-one"},
    ).json()
    assert reported is not None
    assert usage["data"][0]["total_tokens"] == reported.total_tokens
    assert usage["data"][0]["stream"] is True


def test_usage_rejects_bad_query(secured: RunningServer) -> None:
    response = httpx.get(f"{secured.url}/v1/usage", params={"limit": "0"}, headers={"Authorization": "Bearer key-one"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "limit"


def test_readyz_reports_keys_and_offline(secured: RunningServer) -> None:
    ready = httpx.get(f"{secured.url}/readyz").json()
    assert ready["checks"]["auth"] == "keys"
    assert ready["checks"]["model:default"].endswith("(offline)")


def test_prompts_absent_from_logs_by_default(secured: RunningServer) -> None:
    sdk(secured, "key-one").chat.completions.create(
        model="default", messages=[{"role": "user", "content": "secret-prompt-xyz"}]
    )

    def access_logged() -> bool:
        lines = [json.loads(line) for line in secured.log().splitlines() if line.startswith("{")]
        return any(line.get("offline") is True and line.get("logger") == "llm_gateway.access" for line in lines)

    wait_until(access_logged, what="the request's access log line")
    assert "secret-prompt-xyz" not in secured.log()


def test_usage_grouped_by_model_over_http(secured: RunningServer) -> None:
    sdk(secured, "key-two").chat.completions.create(model="default", messages=HELLO)
    usage = httpx.get(
        f"{secured.url}/v1/usage", params={"group_by": "model"}, headers={"Authorization": "Bearer key-two"}
    ).json()
    assert [g["value"] for g in usage["groups"]] == ["default"]
    assert usage["groups"][0]["total_tokens"] == usage["totals"]["total_tokens"]
    bad = httpx.get(
        f"{secured.url}/v1/usage", params={"group_by": "prompt"}, headers={"Authorization": "Bearer key-two"}
    )
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "group_by"


def _chat(server: RunningServer, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    return httpx.post(
        f"{server.url}/v1/chat/completions", json={"model": "default", "messages": HELLO}, headers=headers
    )


def _eventually_refused(server: RunningServer, key: str) -> None:
    wait_until(lambda: _chat(server, key).status_code == 401, timeout=10, interval=0.1, what="the key refused")


def test_revoking_the_last_key_closes_the_gateway(start_gateway: GatewayFactory, tmp_path: Path) -> None:
    db = tmp_path / "gateway.sqlite3"
    only = key_cli(db, "create", "only").stdout.strip()
    server = start_gateway(db=db, open_mode=False)
    assert _chat(server, only).status_code == 200
    assert _chat(server, None).status_code == 401
    assert key_cli(db, "revoke", "only").returncode == 0
    _eventually_refused(server, only)
    for key in (None, "any-key-at-all", only):
        assert _chat(server, key).status_code == 401, key
    usage = httpx.get(f"{server.url}/v1/usage")
    assert usage.status_code == 401
    assert httpx.get(f"{server.url}/readyz").json()["checks"]["auth"] == "keys"
    assert "every request is refused" not in server.log()  # keys existed at start


def test_a_gateway_without_keys_refuses_everything_unless_started_open(start_gateway: GatewayFactory) -> None:
    closed = start_gateway(open_mode=False)
    assert _chat(closed, None).status_code == 401
    assert _chat(closed, "whatever").status_code == 401
    assert "every request is refused with 401" in closed.log()
    opened = start_gateway(open_mode=True)
    assert _chat(opened, None).status_code == 200
    assert httpx.get(f"{opened.url}/readyz").json()["checks"]["auth"] == "open (TOOLMESH_GATEWAY_OPEN)"
    assert "TOOLMESH_GATEWAY_OPEN is set" in opened.log()


def test_a_revoked_key_is_refused_even_when_the_gateway_runs_open(
    start_gateway: GatewayFactory, tmp_path: Path
) -> None:
    db = tmp_path / "gateway.sqlite3"
    key = key_cli(db, "create", "gone").stdout.strip()
    assert key_cli(db, "revoke", "gone").returncode == 0
    server = start_gateway(db=db, open_mode=True)
    assert _chat(server, key).status_code == 401
    assert _chat(server, None).status_code == 200
