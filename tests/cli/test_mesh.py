"""``toolmesh up``/``status``/``down`` and the run commands against the real local mesh.

The mesh is started by the CLI itself in a subprocess (as a user would), with the offline
model behind the gateway, on free ports and a temporary state directory.
"""

from __future__ import annotations

import json
import re
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.mesh_cli import AVAILABLE_TOOLS, MeshUnderTest, toolmesh
from tests.support.servers import REPO_ROOT, free_port
from toolmesh_cli.errors import MeshError, ServiceStartError
from toolmesh_cli.mesh import MeshPorts, start_mesh


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MeshUnderTest]:
    missing = [p for p in ("orchestrator/function_app.py", "llm_gateway/main.py") if not (REPO_ROOT / p).is_file()]
    if missing or "notes" not in AVAILABLE_TOOLS:
        pytest.skip(f"the mesh is incomplete in this checkout (missing: {missing or ['tools/notes']})")
    state_dir = tmp_path_factory.mktemp("mesh") / ".toolmesh"
    port = free_port()
    tool_args = [arg for name in AVAILABLE_TOOLS for arg in ("--tool", name)]
    up = toolmesh(state_dir, "up", "--port", str(port), "--auto-ports", *tool_args, "--json")
    assert up.code == 0, up.stdout + up.stderr
    yield MeshUnderTest(state_dir=state_dir, url=f"http://127.0.0.1:{port}", up=up)
    toolmesh(state_dir, "down")


def test_up_records_every_service_and_keeps_keys_off_screen_and_command_lines(mesh: MeshUnderTest) -> None:
    services = {item["name"]: item for item in mesh.up.json()["services"]}
    assert set(services) == {"host", "gateway", *AVAILABLE_TOOLS}
    secrets_file = mesh.state_dir / "secrets.json"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    keys = [value for value in json.loads(secrets_file.read_text()).values()]
    assert len(keys) == len(set(keys)) and all(len(k) >= 40 for k in keys)
    state_text = (mesh.state_dir / "mesh.json").read_text()
    for item in services.values():
        cmdline = Path(f"/proc/{item['pid']}/cmdline").read_bytes().decode()
        for key in keys:
            assert key not in cmdline, f"a key is on the command line of {item['name']}"
            assert key not in mesh.up.stdout + mesh.up.stderr and key not in state_text


def test_status_shows_every_service_healthy(mesh: MeshUnderTest) -> None:
    result = mesh("status", "--json")
    assert result.code == 0, result.stderr
    report = result.json()
    assert report["running"] is True
    assert all(item["healthy"] for item in report["services"])
    table = mesh("status")
    assert "healthy" in table.stdout and "host" in table.stdout


def test_run_completes_on_the_mesh_with_the_key_found_in_the_state_dir(mesh: MeshUnderTest) -> None:
    result = mesh("run", "Create a note titled groceries with milk and eggs", "--max-iterations", "3", "--json")
    assert result.code == 0, result.stdout + result.stderr
    final = result.json()
    assert final["status"] == "Completed"
    assert final["output"]["outcome"] in ("completed", "budget_exhausted")
    functions = [c["function"] for t in final["output"]["tasks"] for c in t["tool_calls"]]
    assert any("createNote" in f for f in functions), final["output"]
    listed = mesh("runs", "--json")
    assert final["id"] in [run["id"] for run in listed.json()]


def test_tools_lists_the_live_catalog_with_sizes(mesh: MeshUnderTest) -> None:
    result = mesh("tools", "--json")
    assert result.code == 0, result.stderr
    tools = {tool["name"]: tool for tool in result.json()["tools"]}
    assert "notes" in tools
    assert all(f["size_chars"] > 0 and f["approx_tokens"] > 0 for f in tools["notes"]["functions"])
    shown = mesh("tools", "show", "notes", "--json")
    assert any(f.get("parameters") for f in shown.json()["functions"])


def test_approval_asked_by_a_run_is_granted_from_the_cli(mesh: MeshUnderTest) -> None:
    started = mesh("run", "Delete note 1", "--max-iterations", "2", "--detach", "--json")
    assert started.code == 0, started.stderr
    run_id = started.json()["id"]
    call_id = _wait_for_approval(mesh, run_id)
    approved = mesh("approve", run_id, call_id, "--comment", "ok from the test")
    assert approved.code == 0, approved.stderr
    final = mesh("show", run_id, "--follow", "--json", "--interval", "0.5")
    assert final.code == 0, final.stdout + final.stderr
    body = final.json()
    assert body["status"] == "Completed"
    calls = [c for t in body["output"]["tasks"] for c in t["tool_calls"]]
    assert any("deleteNote" in c["function"] for c in calls)


def test_cancel_stops_a_waiting_run_and_follow_exits_three(mesh: MeshUnderTest) -> None:
    started = mesh("run", "Delete note 2", "--detach", "--json")
    run_id = started.json()["id"]
    _wait_for_approval(mesh, run_id)
    assert mesh("cancel", run_id).code == 0
    final = mesh("show", run_id, "--follow", "--interval", "0.5")
    assert final.code == 3, final.stdout + final.stderr
    assert "outcome cancelled" in final.stdout


def test_reply_from_the_cli_reaches_a_run_waiting_on_the_mailbox(mesh: MeshUnderTest) -> None:
    if "mailbox" not in AVAILABLE_TOOLS:
        pytest.skip("tools/mailbox is not in this checkout")
    objective = "Send a message to ann@example.com asking whether Monday suits the launch"
    started = mesh("run", objective, "--tool", "mailbox", "--max-iterations", "2", "--detach", "--json")
    run_id = started.json()["id"]
    call_id = _wait_for(mesh, run_id, "waiting")
    replied = mesh("reply", run_id, call_id, "Monday is fine", "--from", "ann@example.com")
    assert replied.code == 0, replied.stderr
    final = mesh("show", run_id, "--follow", "--json", "--interval", "0.5")
    assert final.code == 0, final.stdout + final.stderr
    assert "Monday is fine" in final.json()["output"]["tasks"][0]["result"]


def test_bad_budget_is_refused_by_the_real_api(mesh: MeshUnderTest) -> None:
    result = mesh("run", "anything", "--max-tokens", "5")
    assert result.code == 2
    assert "budgets.max_tokens" in result.stderr


def test_logs_and_data_hold_no_credential_and_are_for_the_owner_only(mesh: MeshUnderTest) -> None:
    keys = json.loads((mesh.state_dir / "secrets.json").read_text())
    headers = {"x-functions-key": keys["TOOLMESH_FUNCTIONS_KEY"]}
    # Run ids the durable client cannot handle: its calls fail inside the host's HTTP functions.
    for run_id in ("%252F", "%2523", "%252F..%252F"):
        for method, suffix in (("GET", ""), ("POST", "/cancel")):
            response = httpx.request(method, f"{mesh.url}/api/runs/{run_id}{suffix}", headers=headers, timeout=30)
            assert response.status_code in (400, 404, 500), response.text
            assert "durabletask-rpc" not in response.text
    assert mesh("runs").code == 0  # the mesh still answers, and has written what it does
    folders = [mesh.state_dir, *(p for p in mesh.state_dir.rglob("*") if p.is_dir())]
    files = [p for p in mesh.state_dir.rglob("*") if p.is_file()]
    assert {str(p): stat.S_IMODE(p.stat().st_mode) for p in folders} == {str(p): 0o700 for p in folders}
    assert {str(p): stat.S_IMODE(p.stat().st_mode) for p in files} == {str(p): 0o600 for p in files}
    logs = [p for p in files if p.suffix == ".log"]
    assert {p.stem for p in logs} >= {"host", "gateway", *AVAILABLE_TOOLS}
    rpc_token = re.compile(rb"durabletask-rpc/(?!\[redacted\])")
    for path in files:
        if path.name == "secrets.json":
            continue  # the key store itself (0600, checked above)
        content = path.read_bytes()
        assert rpc_token.search(content) is None, f"the durable client's RPC token is in {path}"
        for name, key in keys.items():
            assert key.encode() not in content, f"{name} is in {path}"


def test_down_stops_every_service(mesh: MeshUnderTest) -> None:
    pids = [item["pid"] for item in mesh.up.json()["services"]]
    result = mesh("down")
    assert result.code == 0, result.stderr
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid)
    assert mesh("status").code == 1
    assert mesh("runs").code == 2


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"


def _wait_for_approval(mesh: MeshUnderTest, run_id: str) -> str:
    return _wait_for(mesh, run_id, "approvals")


def _wait_for(mesh: MeshUnderTest, run_id: str, key: str, timeout: float = 60) -> str:
    """The call id of the first entry of ``progress[key]`` (approvals or waiting) once there is one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = mesh("show", run_id, "--json").json()
        progress = view.get("progress") or {}
        if progress.get(key):
            return str(progress[key][0]["call_id"])
        assert view["status"] not in ("Completed", "Failed", "Terminated"), view
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} never showed {key}")


def test_up_refuses_a_port_in_use_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = toolmesh(tmp_path / ".toolmesh", "up", "--port", str(port), "--auto-ports", "--tool", "notes")
    assert result.code == 1
    assert f"port {port} for host is in use" in result.stderr
    assert not (tmp_path / ".toolmesh" / "mesh.json").exists()


def test_a_service_that_crashes_at_start_is_named_and_the_others_are_stopped(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    for folder in ("orchestrator", "llm_gateway", "tools/notes"):
        (root / folder).mkdir(parents=True)
    (root / "orchestrator" / "function_app.py").write_text("")
    (root / "tools" / "__init__.py").write_text("")
    (root / "tools" / "notes" / "__init__.py").write_text("")
    (root / "llm_gateway" / "__init__.py").write_text("")
    (root / "tools" / "notes" / "main.py").write_text("raise RuntimeError('notes cannot open its database')\n")
    (root / "llm_gateway" / "main.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n        return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'ok'})\n"
    )
    ports = MeshPorts.free()
    with pytest.raises(ServiceStartError) as failure:
        start_mesh(tmp_path / "state", ports=ports, root=root, tools=["notes"], timeout=30)
    assert failure.value.service == "notes"
    assert "notes cannot open its database" in failure.value.log_path.read_text()
    with socket.socket() as probe:  # the gateway that did start was stopped again
        probe.bind(("127.0.0.1", ports.gateway))
    with pytest.raises(MeshError, match="unknown tool service"):
        start_mesh(tmp_path / "state", ports=ports, root=root, tools=["nope"])
