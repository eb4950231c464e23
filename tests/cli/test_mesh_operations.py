"""Operating the local mesh when processes die and come back: ``up`` again, ``restart``, ports, environments.

One mesh (the notes tool, the gateway and the host) is started by the CLI in a subprocess, as a
user would, from a shell that holds provider keys; the tests crash and restart its parts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.mesh_cli import MeshUnderTest, toolmesh
from tests.support.servers import REPO_ROOT, free_port
from tests.support.waiting import wait_until
from toolmesh_cli.errors import MeshError
from toolmesh_cli.mesh import MeshPorts, _check_port_free, start_mesh

# What a user's shell may hold: provider keys (for the gateway only) and the CLI's own key.
SHELL = {
    "OPENAI_API_KEY": "sk-provider-key-for-the-gateway-only",
    "ANTHROPIC_API_KEY": "anthropic-provider-key-for-the-gateway-only",
    "GITHUB_TOKEN": "ghp-a-token-no-service-but-the-gateway-gets",
    "TOOLMESH_GATEWAY_LOG_PROMPTS": "false",
    "NOTES_MAX_BODY_BYTES": "300000",
}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshUnderTest]:
    state_dir = tmp_path_factory.mktemp("mesh-ops") / ".toolmesh"
    port = free_port()
    up = toolmesh(state_dir, "up", "--port", str(port), "--auto-ports", "--tool", "notes", "--json", env_extra=SHELL)
    assert up.code == 0, up.stdout + up.stderr
    yield MeshUnderTest(state_dir=state_dir, url=f"http://127.0.0.1:{port}", up=up)
    toolmesh(state_dir, "down")


def _services(mesh: MeshUnderTest) -> dict[str, dict[str, object]]:
    return {item["name"]: item for item in json.loads((mesh.state_dir / "mesh.json").read_text())["services"]}


def _environ(pid: object) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)


def _keys(mesh: MeshUnderTest) -> dict[str, str]:
    return {str(k): str(v) for k, v in json.loads((mesh.state_dir / "secrets.json").read_text()).items()}


def test_each_service_gets_only_its_own_settings_and_keys(mesh: MeshUnderTest) -> None:
    services = _services(mesh)
    environs = {name: _environ(item["pid"]) for name, item in services.items()}
    keys = _keys(mesh)
    owners = {
        SHELL["OPENAI_API_KEY"]: {"gateway"},
        SHELL["ANTHROPIC_API_KEY"]: {"gateway"},
        SHELL["GITHUB_TOKEN"]: {"gateway"},
        keys["TOOLMESH_FUNCTIONS_KEY"]: {"host"},
        keys["TOOLMESH_CALLBACK_SECRET"]: {"host"},
        keys["TOOLMESH_GATEWAY_KEY"]: {"host", "gateway"},
        keys["NOTES_API_KEY"]: {"host", "notes"},
        keys["ISSUES_API_KEY"]: {"host"},
    }
    for secret, allowed in owners.items():
        holders = {name for name, env in environs.items() if secret in env.values()}
        assert holders == allowed, f"a secret meant for {sorted(allowed)} is in {sorted(holders)}"
    assert environs["gateway"]["TOOLMESH_GATEWAY_LOG_PROMPTS"] == "false"
    assert "TOOLMESH_GATEWAY_LOG_PROMPTS" not in environs["host"]
    assert environs["notes"]["NOTES_MAX_BODY_BYTES"] == "300000"
    assert not any(name.startswith("NOTES_") for name in environs["gateway"])
    assert all("PATH" in env for env in environs.values())


def test_runs_started_around_the_keep_alive_times_never_get_a_500(mesh: MeshUnderTest) -> None:
    """One pooled client, as the durable client inside the host has: a start after each idle gap.

    The gaps sit at uvicorn's default keep-alive (5 s), where a server that closed idle connections
    raced the client's reuse of them, and at aiohttp's pool idle time (15 s).
    """
    key = _keys(mesh)["TOOLMESH_FUNCTIONS_KEY"]
    body = {"objective": "Say hello", "initial_tasks": ["Say hello"], "budgets": {"max_iterations": 1}}
    statuses = []
    with httpx.Client(base_url=mesh.url, headers={"x-functions-key": key}, timeout=60) as api:
        statuses.append(api.post("/api/runs", json=body).status_code)
        for gap in (4.9, 5.0, 5.05, 5.1, 14.95, 15.05):
            time.sleep(gap)
            statuses.append(api.post("/api/runs", json=body).status_code)
    assert statuses == [202] * len(statuses)


def test_up_after_a_crash_restarts_only_the_service_that_died(mesh: MeshUnderTest) -> None:
    before = _services(mesh)
    os.kill(int(str(before["notes"]["pid"])), signal.SIGKILL)
    up = mesh("up", "--json")
    assert up.code == 0, up.stdout + up.stderr
    after = {item["name"]: item for item in up.json()["services"]}
    assert sorted(up.json()["adopted"]) == ["gateway", "host"]
    assert after["notes"]["pid"] != before["notes"]["pid"]
    assert after["notes"]["url"] == before["notes"]["url"]
    assert {n: after[n]["pid"] for n in ("host", "gateway")} == {n: before[n]["pid"] for n in ("host", "gateway")}
    assert mesh("status", "--json").json()["running"] is True
    again = mesh("up")  # nothing died: everything is kept
    assert again.code == 0 and again.stdout.count("kept") == 3, again.stdout


def test_restart_notes_keeps_its_data_and_status_and_down_see_it(mesh: MeshUnderTest) -> None:
    notes_url = str(_services(mesh)["notes"]["url"])
    headers = {"X-API-Key": _keys(mesh)["NOTES_API_KEY"]}
    created = httpx.post(f"{notes_url}/notes", json={"title": "kept", "content": "across restarts"}, headers=headers)
    assert created.status_code == 201, created.text
    note_id = created.json()["id"]
    before = _services(mesh)
    restarted = mesh("restart", "notes", "--json")
    assert restarted.code == 0, restarted.stdout + restarted.stderr
    after = _services(mesh)
    assert after["notes"]["pid"] != before["notes"]["pid"] and after["notes"]["port"] == before["notes"]["port"]
    assert after["host"]["pid"] == before["host"]["pid"]
    fetched = httpx.get(f"{notes_url}/notes/{note_id}", headers=headers)
    assert fetched.status_code == 200 and fetched.json()["content"] == "across restarts"
    assert (mesh.state_dir / "data" / "notes" / "notes.sqlite3").is_file()
    status = {item["name"]: item for item in mesh("status", "--json").json()["services"]}
    assert status["notes"]["pid"] == after["notes"]["pid"] and status["notes"]["healthy"]
    assert mesh("restart", "nope").code == 1


def test_up_after_the_host_was_killed_brings_back_its_runs(mesh: MeshUnderTest) -> None:
    key = _keys(mesh)["TOOLMESH_FUNCTIONS_KEY"]
    api = httpx.Client(base_url=mesh.url, headers={"x-functions-key": key}, timeout=30)
    listed = api.get("/api/runs").json()
    os.kill(int(str(_services(mesh)["host"]["pid"])), signal.SIGKILL)
    assert mesh("status").code == 1
    up = mesh("up", "--json")
    assert up.code == 0, up.stdout + up.stderr
    assert sorted(up.json()["adopted"]) == ["gateway", "notes"]
    ids = {run["id"] for run in httpx.get(f"{mesh.url}/api/runs", headers={"x-functions-key": key}).json()}
    assert {run["id"] for run in listed} <= ids


def test_down_stops_every_service_including_the_restarted_ones(mesh: MeshUnderTest) -> None:
    pids = [int(str(item["pid"])) for item in _services(mesh).values()]
    assert mesh("down").code == 0
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    assert mesh("status").code == 1


def test_a_port_left_in_time_wait_is_free_and_a_listening_one_is_named() -> None:
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(MeshError, match=f"port {port} for notes is in use"):
            _check_port_free("notes", port)
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()  # the server side closes first: its end stays in TIME-WAIT
        client.close()
    with socket.socket() as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # what the old check did: refused for a minute
    _check_port_free("notes", port)


def test_up_right_after_down_on_the_same_fixed_ports(tmp_path: Path) -> None:
    ports = MeshPorts(**{name: free_port() for name in ("host", "gateway", "notes", "issues", "calc", "mailbox")})
    first = start_mesh(tmp_path / ".toolmesh", ports=ports, tools=["notes"])
    key = first.functions_key
    with httpx.Client(base_url=first.url, headers={"x-functions-key": key}) as api:
        assert api.get("/api/runs").status_code == 200  # an open keep-alive connection the host closes at stop
    first.stop()
    assert not (tmp_path / ".toolmesh" / "mesh.json").exists()
    started = time.monotonic()
    second = start_mesh(tmp_path / ".toolmesh", ports=ports, tools=["notes"])
    try:
        assert second.url == first.url and second.adopted == ()
        assert time.monotonic() - started < 60
        wait_until(lambda: httpx.get(second.url + "/healthz").status_code == 200, timeout=10)
    finally:
        second.stop()


def test_the_documented_data_paths_are_the_services_defaults() -> None:
    """A tool or the gateway started by hand, as the READMEs say, opens the file ``toolmesh up`` gives it."""
    from llm_gateway.config import DEFAULT_DB_PATH
    from toolmesh_cli.mesh import database_path
    from tools.calc.config import Settings as CalcSettings
    from tools.issues.config import Settings as IssuesSettings
    from tools.mailbox.config import Settings as MailboxSettings
    from tools.notes.config import Settings as NotesSettings

    state_dir = Path(".toolmesh")
    defaults = {
        "notes": NotesSettings.model_fields["db"].default,
        "issues": IssuesSettings.model_fields["db"].default,
        "calc": CalcSettings.model_fields["db"].default,
        "mailbox": MailboxSettings.model_fields["db"].default,
        "gateway": DEFAULT_DB_PATH,
    }
    for service, default in defaults.items():
        assert Path(default) == database_path(state_dir, service), service
    tools_readme = (REPO_ROOT / "tools" / "README.md").read_text()
    assert "| `<P>_DB` | `.toolmesh/data/<name>/<name>.sqlite3` |" in tools_readme
    assert f"`{DEFAULT_DB_PATH}`" in (REPO_ROOT / "llm_gateway" / "README.md").read_text()
    host_data = str(state_dir / "data" / "host")
    for readme in ("README.md", "orchestrator/durable_host/README.md"):
        assert f"--data-dir {host_data}" in (REPO_ROOT / readme).read_text(), readme
