"""Real servers on loopback ports: the fake upstream and gateways configured against it."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.servers import RunningServer, start_uvicorn

GatewayFactory = Callable[..., RunningServer]


@pytest.fixture(scope="session")
def fake_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    logs = tmp_path_factory.mktemp("fake-upstream")
    server = start_uvicorn(
        "tests.support.fake_openai:app",
        log_path=logs / "fake.log",
        env={"FAKE_OPENAI_API_KEY": "sk-upstream"},
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def start_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayFactory]:
    """Start gateways with a given config (dict, written as YAML) and environment; all stopped at the end.

    They run open (no key needed) unless ``open_mode=False``.
    """
    servers: list[RunningServer] = []

    def start(
        config: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
        db: Path | None = None,
        open_mode: bool = True,
    ) -> RunningServer:
        folder = tmp_path_factory.mktemp("gateway")
        environment = {
            "TOOLMESH_GATEWAY_DB": str(db or folder / "gateway.sqlite3"),
            "TOOLMESH_GATEWAY_API_KEYS": "",
            "TOOLMESH_GATEWAY_OPEN": "true" if open_mode else "false",
            "OPENAI_BASE_URL": "",
            "OPENAI_API_KEY": "",
        }
        if config is not None:
            path = folder / "gateway.yaml"
            path.write_text(yaml.safe_dump(config))
            environment["TOOLMESH_GATEWAY_CONFIG"] = str(path)
        environment.update(env or {})
        server = start_uvicorn("llm_gateway.main:app", log_path=folder / "gateway.log", env=environment)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def nonce() -> str:
    return uuid.uuid4().hex[:8]


def upstream(fake: RunningServer, model: str, **extra: Any) -> dict[str, Any]:
    return {
        "provider": "openai",
        "base_url": f"{fake.url}/v1",
        "api_key": "sk-upstream",
        "model": model,
        **extra,
    }


@pytest.fixture(scope="session")
def gateway(
    fake_upstream: RunningServer, start_gateway: GatewayFactory, tmp_path_factory: pytest.TempPathFactory
) -> RunningServer:
    """One gateway with an alias per upstream behaviour the tests exercise (each alias used by one test)."""
    n = nonce()
    script = tmp_path_factory.mktemp("script") / "script.yaml"
    script.write_text(yaml.safe_dump(SCRIPT))
    fake = fake_upstream
    config = {
        "retry": {
            "max_retries": 2,
            "initial_backoff": 0.01,
            "max_backoff": 0.05,
            "max_retry_after": 2,
            "total_timeout": 10,
        },
        "stream_keepalive": 0.1,
        "models": {
            "fake": {"deployments": [upstream(fake, "fake-gpt")]},
            "fake-httpx": {"deployments": [upstream(fake, "fake-gpt", transport="httpx")]},
            "reuse-aiohttp": {"deployments": [upstream(fake, "reuse-aiohttp")]},
            "reuse-httpx": {"deployments": [upstream(fake, "reuse-httpx", transport="httpx")]},
            "lingers": {"deployments": [upstream(fake, "x?linger_ms=30000")]},
            "tools": {"deployments": [upstream(fake, "fake-gpt?tools=1")]},
            "flaky-429": {"deployments": [upstream(fake, f"m{n}?error=429&retry_after=1&fail_times=1")]},
            "flaky-500": {"deployments": [upstream(fake, f"m{n}?error=500&fail_times=2")]},
            "flaky-stream": {"deployments": [upstream(fake, f"s{n}?error=503&fail_times=1")]},
            "fallback": {
                "deployments": [
                    upstream(fake, "fake-gpt?error=500", name="broken"),
                    upstream(fake, "fake-gpt", name="healthy"),
                ]
            },
            "fallback-429-long": {
                "deployments": [
                    upstream(fake, "x?error=429&retry_after=60", name="busy"),
                    upstream(fake, "fake-gpt", name="spare"),
                ]
            },
            "bad-key": {
                "deployments": [
                    {**upstream(fake, "fake-gpt"), "api_key": "wrong", "name": "badkey"},
                    upstream(fake, "fake-gpt", name="goodkey"),
                ]
            },
            "slow-fallback": {
                "deployments": [
                    upstream(fake, "x?latency_ms=3000", timeout=0.3, name="slow"),
                    upstream(fake, "fake-gpt", name="fast"),
                ]
            },
            "slow": {"deployments": [upstream(fake, "x?latency_ms=3000", timeout=0.3)]},
            "rejects": {"deployments": [upstream(fake, "x?error=400")]},
            "down": {"deployments": [upstream(fake, "x?error=502")]},
            "priced": {
                "deployments": [
                    upstream(fake, "fake-gpt", price={"input_per_million": 1_000_000, "output_per_million": 2_000_000})
                ]
            },
            "gappy": {"deployments": [upstream(fake, "fake-gpt?chunks=2&gap_ms=250")]},
            "slow-stream": {"deployments": [upstream(fake, "x?chunks=40&gap_ms=100")]},
            "midstream": {"deployments": [upstream(fake, "x?midstream=2&chunks=6&gap_ms=20")]},
            "midstream-event": {"deployments": [upstream(fake, "x?midstream_error=2&chunks=6&gap_ms=20")]},
            "azure": {
                "deployments": [
                    {
                        "provider": "azure",
                        "endpoint": fake.url,
                        "deployment": "gpt-az",
                        "api_version": "2024-10-21",
                        "api_key": "sk-upstream",
                    }
                ]
            },
            "azure-entra": {
                "deployments": [
                    {
                        "provider": "azure",
                        "endpoint": fake.url,
                        "deployment": "gpt-az-entra",
                        "api_version": "2024-10-21",
                        "azure_ad_token_env": "TOOLMESH_TEST_AZURE_TOKEN",
                    }
                ]
            },
            "azure-v1": {
                "deployments": [
                    {
                        "provider": "azure",
                        "endpoint": f"{fake.url}/openai/v1",
                        "deployment": "gpt-az1",
                        "api_key": "sk-upstream",
                    }
                ]
            },
            "offline": {"deployments": [{"provider": "offline"}]},
            "scripted": {"deployments": [{"provider": "scripted", "script": str(script)}]},
        },
    }
    return start_gateway(config, env={"TOOLMESH_TEST_AZURE_TOKEN": "sk-upstream"})


SCRIPT: dict[str, Any] = {
    "model": "scripted-demo",
    "entries": [
        {
            "match": {"step": "execute_task", "task_contains": "weather", "tool_messages": 0},
            "respond": {
                "tool_calls": [
                    {"name": "get_weather", "arguments": {"city": "Paris"}, "id": "call_a"},
                    {"name": "get_weather", "arguments": {"city": "Rome"}, "id": "call_b"},
                ]
            },
        },
        {
            "match": {"step": "execute_task", "task_contains": "weather", "tool_messages": 2},
            "respond": {"content": "Paris is sunny, Rome is rainy."},
        },
        {
            "match": {"step": "execute_task", "task_contains": "broken"},
            "respond": {"tool_calls": [{"name": "no_such_tool", "arguments": '{"city": '}]},
        },
        {
            "match": {"message_contains": "busy"},
            "respond": {"status": 429, "retry_after": 0, "error": {"message": "scripted busy"}},
        },
        {
            "match": {"message_contains": "usage"},
            "respond": {"content": "counted", "usage": {"prompt_tokens": 11, "completion_tokens": 7}},
        },
        {
            "match": {"step": "create_tasks", "done_tasks": 0},
            "respond": {"json": {"tasks": ["Check the weather"], "objective_met": False}},
        },
    ],
}
