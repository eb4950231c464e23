"""Runs cannot reach each other's data, callbacks are taken once, and nothing fails open.

Two runs side by side on one mesh: one run's (scripted) model tries to read and answer the
other run's question and to read its memory, and sees nothing of it; the other run's wait is
untouched. Then the callback endpoint's rules, a callback wait ended by the run's deadline, and a
per-run approval override that tries to waive an approval the spec requires.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from agent_loop.callbacks import callback_signature
from durable_host.history import EventType
from tests.support.local_mesh import Mesh, start_mesh

SIGNATURE = re.compile(r"sig=[0-9a-f]{64}")
SECRET = "the vault code is 4711"

ASK_DANA = {
    "match": {"step": "execute_task", "tool_messages": 0},
    "respond": {
        "tool_calls": [{"name": "sendMessage", "arguments": {"to": "dana", "subject": "Vault", "body": "Open it?"}}]
    },
}
SCRIPTS: dict[str, list[dict[str, Any]]] = {
    "victim": [
        {
            "match": {"step": "execute_task", "tool_messages": 0},
            "respond": {"tool_calls": [{"name": "createNote", "arguments": {"title": "Vault", "content": SECRET}}]},
        },
        {**ASK_DANA, "match": {"step": "execute_task", "tool_messages": 1}},
    ],
    "attacker": [],  # written once the victim's message id is known
    "asker": [ASK_DANA],
    "deleter": [
        {
            "match": {"step": "execute_task", "tool_messages": 0},
            "respond": {"tool_calls": [{"name": "deleteNote", "arguments": {"note_id": "note_0123456789abcdef"}}]},
        }
    ],
}


def _script_path(root: Path, alias: str) -> Path:
    return root / f"{alias}.yaml"


def _write_script(root: Path, alias: str, entries: list[dict[str, Any]]) -> None:
    script = {"model": f"scripted-{alias}", "on_no_match": "offline", "entries": entries}
    _script_path(root, alias).write_text(yaml.safe_dump(script))


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("isolation")
    models: dict[str, Any] = {"default": {"deployments": [{"provider": "offline"}]}}
    for alias, entries in SCRIPTS.items():
        _write_script(root, alias, entries)
        models[alias] = {"deployments": [{"provider": "scripted", "script": _script_path(root, alias).name}]}
    config = root / "gateway.yaml"
    config.write_text(yaml.safe_dump({"models": models}))
    running = start_mesh(root, gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(config)})
    try:
        yield running
    finally:
        running.stop()


def _progress(view: dict[str, Any]) -> dict[str, Any]:
    return view.get("progress") or {}


def _waiting(view: dict[str, Any]) -> bool:
    return bool(_progress(view).get("waiting"))


def _asking(view: dict[str, Any]) -> bool:
    return bool(_progress(view).get("approvals"))


def _history(mesh: Mesh, run_id: str) -> list[dict[str, Any]]:
    """The run's events as the host stored them (inputs included, which the management API folds away)."""
    with sqlite3.connect(f"file:{mesh.root / 'host' / 'durable.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT event FROM history WHERE instance_id = ?", (run_id,)).fetchall()
    return [json.loads(row[0]) for row in rows]


def _tool_results(mesh: Mesh, run_id: str) -> list[dict[str, Any]]:
    """Every tool call's result in the run's history: exactly what its model was shown."""
    events = _history(mesh, run_id)
    scheduled = {e["EventId"]: e["Name"] for e in events if e["EventType"] == EventType.TASK_SCHEDULED}
    return [
        json.loads(e["Result"])
        for e in events
        if e["EventType"] == EventType.TASK_COMPLETED and scheduled.get(e["TaskScheduledId"]) == "invoke_tool"
    ]


def _callback(mesh: Mesh, run_id: str, call_id: str) -> str:
    sig = callback_signature(mesh.keys["callback"], run_id, call_id)
    return f"{mesh.url}/api/runs/{run_id}/callbacks/{call_id}?sig={sig}"


def test_two_runs_side_by_side_cannot_read_or_answer_each_other(mesh: Mesh) -> None:
    victim = mesh.start_run({"objective": "Vault", "initial_tasks": ["Ask dana about the vault"], "model": "victim"})
    waiting = _progress(mesh.wait(victim, until=_waiting, timeout=90))["waiting"][0]
    message_id = waiting["response"]["id"]

    calls = [
        {"name": "listMessages", "arguments": {}},
        {"name": "getMessage", "arguments": {"message_id": message_id}},
        {"name": "searchNotes", "arguments": {"q": "vault code"}},
        {"name": "listNotes", "arguments": {"run_id": victim}},
        {"name": "replyToMessage", "arguments": {"message_id": message_id, "reply": "Yes, open it", "from": "dana"}},
    ]
    _write_script(
        mesh.root,
        "attacker",
        [
            {"match": {"step": "execute_task", "tool_messages": 0}, "respond": {"tool_calls": calls}},
            {"match": {"step": "execute_task", "tool_messages": len(calls)}, "respond": {"content": "done"}},
        ],
    )
    attacker = mesh.start_run({"objective": "Snoop", "initial_tasks": ["Answer dana's question"], "model": "attacker"})
    # Answering for a person is not the model's to do: the call waits for a person, who (carelessly) approves.
    pending = _progress(mesh.wait(attacker, until=_asking, timeout=90))["approvals"]
    assert [p["function"] for p in pending] == ["replyToMessage"]
    with mesh.api() as api:
        decided = api.post(f"/api/runs/{attacker}/approvals/{pending[0]['call_id']}", json={"approve": True})
        assert decided.status_code == 202, decided.text
    report = mesh.wait(attacker, timeout=90)["output"]

    outcomes = {c["function"]: (c["ok"], c["status"]) for t in report["tasks"] for c in t["tool_calls"]}
    assert outcomes == {
        "listMessages": (True, 200),
        "getMessage": (False, 404),
        "searchNotes": (True, 200),
        "listNotes": (True, 200),
        "replyToMessage": (False, 404),
    }, outcomes
    shown = json.dumps(_tool_results(mesh, attacker))
    assert SECRET not in shown and "Open it?" not in shown and not SIGNATURE.search(shown)
    results = {json.dumps(r["json"]) for r in _tool_results(mesh, attacker) if r["ok"]}
    assert all('"total": 0' in r for r in results), results

    # The victim still waits on the same call, its message unanswered; a person's reply then reaches it.
    view = mesh.wait(victim, until=_waiting, timeout=10)
    assert view["status"] == "Running" and _progress(view)["waiting"][0]["call_id"] == waiting["call_id"]
    with mesh.tool("mailbox") as mailbox:
        assert mailbox.get(f"/messages/{message_id}").json()["status"] == "awaiting_reply"
    with mesh.api() as api:
        replied = api.post(f"/api/runs/{victim}/replies/{waiting['call_id']}", json={"reply": "No, keep it shut"})
        assert replied.status_code == 202, replied.text
    final = mesh.wait(victim, timeout=90)["output"]
    assert "No, keep it shut" in final["tasks"][0]["result"]
    assert not SIGNATURE.search(json.dumps(_tool_results(mesh, victim)))


def test_a_callback_is_accepted_once_while_its_call_waits(mesh: Mesh) -> None:
    run_id = mesh.start_run({"objective": "Ask", "initial_tasks": ["Ask dana"], "model": "asker"})
    call_id = _progress(mesh.wait(run_id, until=_waiting, timeout=90))["waiting"][0]["call_id"]
    url = _callback(mesh, run_id, call_id)
    body = {"message_id": "m", "from": "dana", "reply": "yes"}
    never_waited = httpx.post(_callback(mesh, run_id, "c9-9-9"), json=body)
    assert never_waited.status_code == 409, never_waited.text
    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(lambda _: httpx.post(url, json=body, timeout=30).status_code, range(8)))
    # One is taken; the others are refused, as a repeat (409) or, once the run has finished, as gone (410).
    assert codes[0] == 202 and set(codes[1:]) <= {409, 410}, codes
    mesh.wait(run_id, timeout=90)
    gone = httpx.post(url, json=body)
    assert gone.status_code == 410, gone.text
    raised = [e for e in _history(mesh, run_id) if e["EventType"] == EventType.EVENT_RAISED]
    assert [e["Name"] for e in raised] == [f"callback-{call_id}"]


def test_a_callback_wait_ended_by_the_deadline_says_so_and_never_shows_the_signed_url(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {"objective": "Ask", "initial_tasks": ["Ask dana"], "model": "asker", "budgets": {"deadline_seconds": 10}}
    )
    view = mesh.wait(run_id, timeout=90)
    (call,) = view["progress"]["tool_calls"]
    assert call["function"] == "sendMessage" and not call["ok"]
    assert "the run's deadline (10 seconds" in call["summary"], call["summary"]
    history = json.dumps(_history(mesh, run_id))
    assert "the run's deadline (10 seconds" in history  # the model's next step was told
    assert not SIGNATURE.search(history)


def test_a_run_cannot_waive_an_approval_the_spec_requires(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {
            "objective": "Tidy",
            "initial_tasks": ["Delete the old note"],
            "model": "deleter",
            "approval": {"deleteNote": "never", "notes": "never"},
        }
    )
    pending = _progress(mesh.wait(run_id, until=_asking, timeout=90))["approvals"]
    assert [p["function"] for p in pending] == ["deleteNote"]
    with mesh.api() as api:
        assert api.post(f"/api/runs/{run_id}/cancel").status_code == 202
    mesh.wait(run_id, timeout=60)
