"""The official AG-UI JavaScript client follows a toolmesh run to its end and steers it past an approval."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.local_mesh import Mesh, mesh_with_fake_upstream, start_mesh
from tests.support.servers import REPO_ROOT

AGUI_CLIENT = "@ag-ui/client@1.0.0"
SCRIPT = Path(__file__).with_name("agui_follow.mjs")
REQUEST = {
    "objective": "Calculate 12 * 49.90 for the licence budget. Write a note with the licence budget result.",
    "approval": {"createNote": "always"},
    "budgets": {"max_iterations": 4},
}


@pytest.fixture(scope="module")
def client_dir() -> Path:
    """The client installed with the machine's npm into a cache kept between runs."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js (node and npm) is not installed; the AG-UI JavaScript client cannot run")
    cache = Path(os.environ.get("TOOLMESH_TEST_CACHE", REPO_ROOT / ".toolmesh" / "test-cache")) / "agui-client"
    if not (cache / "node_modules" / "@ag-ui" / "client" / "package.json").exists():
        cache.mkdir(parents=True, exist_ok=True)
        (cache / "package.json").write_text('{"name": "agui-client-test", "private": true, "type": "module"}')
        installed = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", AGUI_CLIENT],
            cwd=cache, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert installed.returncode == 0, f"npm could not install {AGUI_CLIENT}: {installed.stderr[-2000:]}"
    shutil.copy(SCRIPT, cache / SCRIPT.name)
    return cache


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = start_mesh(tmp_path_factory.mktemp("agui"), host_env={"TOOLMESH_EVENTS_KEEPALIVE": "2"})
    try:
        yield running
    finally:
        running.stop()


def test_the_agui_client_follows_a_run_with_text_tool_calls_and_an_approval(mesh: Mesh, client_dir: Path) -> None:
    run_id = mesh.start_run(REQUEST)
    url = f"{mesh.url}/api/runs/{run_id}/events"
    done = subprocess.run(
        ["node", SCRIPT.name, url, mesh.keys["functions"], run_id],
        cwd=client_dir, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["errors"] == [], (seen["errors"], done.stderr[-3000:])
    assert seen["types"][0] == "RUN_STARTED" and seen["types"][-1] == "RUN_FINISHED"
    assert "598.8" in seen["text"]
    assert {"evaluateExpression", "createNote"} <= set(seen["toolCalls"])
    assert len(seen["toolResults"]) >= 2
    [interrupt] = seen["interrupts"]
    assert interrupt["reason"] == "tool_approval" and interrupt["toolCallId"] in seen["toolResults"]
    assert seen["finished"][0]["type"] == "interrupt" and seen["finished"][-1]["type"] == "success"
    view = mesh.wait(run_id)
    assert view["status"] == "Completed"
    notes = [c for t in view["output"]["tasks"] for c in t["tool_calls"] if c["function"] == "createNote"]
    assert notes and notes[0]["ok"], view["output"]["tasks"]


@pytest.fixture(scope="module")
def cut_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """A model whose first stream breaks off halfway through a tool call's arguments; the step's retry gets it all."""
    root = tmp_path_factory.mktemp("agui-cut")
    with mesh_with_fake_upstream(root, {"cut": "cut?tools=first&midstream=1&fail_times=1"}) as running:
        yield running


def test_a_tool_call_cut_off_mid_arguments_and_retried_reaches_the_client_whole(
    cut_mesh: Mesh, client_dir: Path
) -> None:
    """The retried attempt tells its calls under new ids, so the client does not glue old and new arguments."""
    run_id = cut_mesh.start_run({"objective": "Add up the licence budget", "initial_tasks": ["Add up the budget"],
                                 "model": "cut", "tools": ["calc"], "budgets": {"max_iterations": 1}})  # fmt: skip
    done = subprocess.run(
        ["node", SCRIPT.name, f"{cut_mesh.url}/api/runs/{run_id}/events", cut_mesh.keys["functions"], run_id],
        cwd=client_dir, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["errors"] == [], (seen["errors"], done.stderr[-3000:])
    view = cut_mesh.wait(run_id)
    made = [call for task in view["output"]["tasks"] for call in task["tool_calls"]]
    assert made, view["output"]["tasks"]
    told = {
        call["id"]: call["function"]
        for message in seen["messages"]
        if message["role"] == "assistant"
        for call in message.get("toolCalls") or []
    }
    answered = [message["toolCallId"] for message in seen["messages"] if message["role"] == "tool"]
    assert len(answered) == len(made) == len(set(answered)), (answered, made)
    cut_off = [call["arguments"] for call_id, call in told.items() if call_id not in answered]
    assert cut_off and not any(_is_json(arguments) for arguments in cut_off), told  # the first attempt's, cut
    assert sorted(told[call_id]["name"] for call_id in answered) == sorted(record["function"] for record in made)
    # Whole arguments: the cut-off attempt's piece glued in front of the new ones would not parse.
    assert all(_is_json(told[call_id]["arguments"]) for call_id in answered), told


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
