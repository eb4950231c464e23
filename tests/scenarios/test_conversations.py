"""Talking to runs through the real mesh: messages, questions, stops, chat runs and aborted turns.

The model is scripted where a scenario needs a particular answer (a question, a slow step) and
offline elsewhere; the offline model's rules for messages are deterministic (see
llm_gateway.providers.offline.conversation), so each scenario knows what every message means.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from agent_loop.conversation import MESSAGES_PER_EXECUTION
from tests.cli.conftest import Cli
from tests.support.local_mesh import Mesh, scripted_gateway_config, start_mesh
from tests.support.sse_client import SseEvent, read_events
from tests.support.waiting import wait_until
from toolmesh_cli.client import ApiClient
from toolmesh_cli.config import ApiTarget
from toolmesh_cli.talk_cmds import chat_session

SCRIPTS: dict[str, list[dict[str, Any]]] = {
    "slow": [
        {
            "match": {"step": "execute_task", "task_contains": "slowly", "tool_messages": 0},
            "respond": {"content": "added slowly: 5", "delay_ms": 2500},
        }
    ],
    "asker": [
        {
            "match": {"step": "execute_task", "task_contains": "forecast", "tool_messages": 0},
            "respond": {"tool_calls": [{"name": "ask_people", "arguments": {"question": "Which city?"}}]},
        },
        {
            "match": {"step": "execute_task", "task_contains": "forecast", "tool_contains": "Oslo"},
            "respond": {"content": "the forecast is for Oslo, as Kim said"},
        },
    ],
    "abortable": [
        {
            "match": {"step": "execute_task", "task_contains": "slow note", "tool_messages": 0},
            "respond": {
                "tool_calls": [{"name": "createNote", "arguments": {"title": "Never written", "content": "x"}}],
                "delay_ms": 4000,
            },
        }
    ],
}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("conversations")
    running = start_mesh(root, gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(scripted_gateway_config(root, SCRIPTS))})
    try:
        yield running
    finally:
        running.stop()


def _say(api: httpx.Client, run_id: str, author: str, text: str) -> dict[str, Any]:
    response = api.post(f"/api/runs/{run_id}/messages", json={"author": author, "text": text})
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def _transcript(api: httpx.Client, run_id: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    after = 0
    while True:
        page = api.get(f"/api/runs/{run_id}/messages", params={"after": after, "limit": 50})
        assert page.status_code == 200, page.text
        messages += page.json()["messages"]
        if page.json()["next_after"] is None:
            return messages
        after = page.json()["next_after"]


def _progress(view: dict[str, Any]) -> dict[str, Any]:
    return view.get("progress") or {}


def _message(messages: list[dict[str, Any]], message_id: str) -> dict[str, Any]:
    return next(m for m in messages if m["id"] == message_id)


def test_a_message_sent_mid_run_adds_a_task_that_the_run_then_does(mesh: Mesh) -> None:
    run_id = mesh.start_run({"objective": "Add numbers", "initial_tasks": ["Add 2 and 3 slowly"], "model": "slow"})
    mesh.wait(run_id, until=lambda v: (_progress(v).get("current_task") or {}).get("id") == 1)
    with mesh.api() as api:
        sent = _say(api, run_id, "Dana", "Calculate 7 * 6 for the budget")
        report = mesh.wait(run_id)["output"]
        transcript = _transcript(api, run_id)
    assert report["outcome"] == "completed", report
    added = next(t for t in report["tasks"] if t["task"] == "Calculate 7 * 6 for the budget")
    assert "42" in added["result"] and added["tool_calls"][0]["function"] == "evaluateExpression"
    taken = _message(transcript, sent["id"])
    assert taken["status"] == "taken" and taken["author"] == "Dana"
    assert taken["outcome"] == f"added task {added['id']}: Calculate 7 * 6 for the budget"
    assert any(m["role"] == "agent" and "Added for Dana" in m["text"] for m in transcript)


def test_a_message_during_an_approval_wait_is_taken_and_the_wait_goes_on(mesh: Mesh) -> None:
    run_id = mesh.start_run({"objective": "Sum", "initial_tasks": ["Calculate 2 + 3"], "approval": {"calc": "always"}})
    view = mesh.wait(run_id, until=lambda v: bool(_progress(v).get("approvals")))
    asked = _progress(view)["approvals"][0]
    with mesh.api() as api:
        sent = _say(api, run_id, "Ann", "How far along are you?")
        wait_until(lambda: _message(_transcript(api, run_id), sent["id"])["status"] == "taken", timeout=30)
        view = api.get(f"/api/runs/{run_id}").json()
        assert view["status"] == "Running"
        assert _progress(view)["approvals"] == [asked]  # the same wait, with its own deadline
        transcript = _transcript(api, run_id)
        assert _message(transcript, sent["id"])["outcome"] == "answered"
        assert any(m["role"] == "agent" and m["text"].startswith("[offline] Ann, so far") for m in transcript)
        decided = api.post(f"/api/runs/{run_id}/approvals/{asked['call_id']}", json={"approve": True})
        assert decided.status_code == 202, decided.text
    report = mesh.wait(run_id)["output"]
    assert report["outcome"] == "completed"
    assert report["tasks"][0]["tool_calls"] == [{"function": "evaluateExpression", "ok": True, "status": 200}]


def test_the_agent_asks_and_a_persons_answer_reaches_the_model(mesh: Mesh) -> None:
    run_id = mesh.start_run({"objective": "Weather", "initial_tasks": ["Get the forecast"], "model": "asker"})
    view = mesh.wait(run_id, until=lambda v: any(w["kind"] == "question" for w in _progress(v).get("waiting") or []))
    question = next(w for w in _progress(view)["waiting"] if w["kind"] == "question")
    assert question["message"] == "Which city?"
    with mesh.api() as api:
        assert _transcript(api, run_id)[-1]["kind"] == "question"
        sent = _say(api, run_id, "Kim", "Oslo, please")
        report = mesh.wait(run_id)["output"]
        transcript = _transcript(api, run_id)
    # The scripted model answers this only when the tool result holds Kim's answer.
    assert report["tasks"][0]["result"] == "the forecast is for Oslo, as Kim said"
    assert report["tasks"][0]["tool_calls"] == [{"function": "ask_people", "ok": True, "status": None}]
    answer = _message(transcript, sent["id"])
    assert answer["status"] == "taken" and answer["outcome"].startswith("answered the question of call c1-0-0")


def test_stop_from_a_message_ends_the_run_and_says_who_stopped_it(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {"objective": "Sum", "initial_tasks": ["Calculate 2 + 3", "Calculate 4 + 5"], "approval": {"calc": "always"}}
    )
    mesh.wait(run_id, until=lambda v: bool(_progress(v).get("approvals")))
    with mesh.api() as api:
        sent = _say(api, run_id, "Lee", "Stop, we have what we need")
        view = mesh.wait(run_id)
        transcript = _transcript(api, run_id)
        late = api.post(f"/api/runs/{run_id}/messages", json={"author": "Lee", "text": "still there?"})
    report = view["output"]
    assert report["outcome"] == "cancelled"
    assert report["stop_reason"] == "stopped by Lee: Stop, we have what we need"
    assert [t["task"] for t in report["pending"]] == ["Calculate 2 + 3", "Calculate 4 + 5"]
    assert _message(transcript, sent["id"])["outcome"] == "stopped the run"
    assert late.status_code == 409


def test_bad_messages_get_a_clear_4xx(mesh: Mesh) -> None:
    with mesh.api() as api:
        missing = api.post("/api/runs/no-such-run/messages", json={"author": "Ann", "text": "hi"})
        assert missing.status_code == 404
        run_id = mesh.start_run({"objective": "Sum", "initial_tasks": ["Calculate 1 + 1"]})
        for body, field in [
            ({"author": "Ann", "text": ""}, "text"),
            ({"author": "Ann", "text": "   "}, "text"),
            ({"author": "Ann", "text": "x" * 4001}, "text"),
            ({"author": "", "text": "hi"}, "author"),
            ({"author": "a" * 65, "text": "hi"}, "author"),
            ({"author": "<script>", "text": "hi"}, "author"),
            ({"author": "Ann", "text": "hi", "extra": 1}, "extra"),
            ({"text": "hi"}, "author"),
        ]:
            response = api.post(f"/api/runs/{run_id}/messages", json=body)
            assert response.status_code == 400, (body, response.text)
            assert response.json()["error"]["field"] == field, body
        huge = api.post(
            f"/api/runs/{run_id}/messages",
            content=b'{"author": "Ann", "text": "' + b"x" * 300_000 + b'"}',
            headers={"content-type": "application/json"},
        )
        assert huge.status_code == 400
        mesh.wait(run_id)
        finished = api.post(f"/api/runs/{run_id}/messages", json={"author": "Ann", "text": "hello"})
        assert finished.status_code == 409 and "finished" in finished.json()["error"]["message"]
        assert api.get("/api/runs/no-such-run/messages").status_code == 404
        assert api.get(f"/api/runs/{run_id}/messages", params={"limit": 0}).status_code == 400
        assert api.post(f"/api/runs/{run_id}/abort").status_code == 409


def _history_events(mesh: Mesh, run_id: str) -> int:
    with sqlite3.connect(f"file:{mesh.root / 'host' / 'durable.sqlite3'}?mode=ro", uri=True) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM history WHERE instance_id = ?", (run_id,)).fetchone()
    return int(count)


MAX_PENDING = 20  # the app's default TOOLMESH_MAX_PENDING_MESSAGES
# A message adds at most its event and an episode's two markers; each one taken at most two activity
# calls (the messages step, the store) with their episodes' markers. Neither depends on how many are sent.
HISTORY_BOUND = 3 * (MESSAGES_PER_EXECUTION + MAX_PENDING) + 8 * MESSAGES_PER_EXECUTION


def _taken(api: httpx.Client, run_id: str) -> int:
    return sum(1 for m in _transcript(api, run_id) if m["role"] == "person" and m["status"] == "taken")


def test_a_storm_of_a_thousand_messages_is_bounded(mesh: Mesh) -> None:
    run_id = mesh.start_run({"objective": "Sum", "initial_tasks": ["Calculate 2 + 3"], "approval": {"calc": "always"}})
    view = mesh.wait(run_id, until=lambda v: bool(_progress(v).get("approvals")))
    asked = _progress(view)["approvals"][0]
    before = _history_events(mesh, run_id)

    def send(number: int) -> int:
        with mesh.api() as api:
            response = api.post(f"/api/runs/{run_id}/messages", json={"author": "Bot", "text": f"status {number}?"})
            return response.status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(send, range(1000)))
    assert set(statuses) <= {202, 429}, sorted(set(statuses))
    accepted = statuses.count(202)
    assert 0 < accepted < 1000  # the run holds a bounded number of messages it has not taken
    with mesh.api() as api:
        # The run takes what it may in this execution; the rest waits, bounded, for the next one.
        wanted = min(accepted, MESSAGES_PER_EXECUTION)
        wait_until(lambda: _taken(api, run_id) >= wanted, timeout=60, what=f"{wanted} messages taken")
        grown = _history_events(mesh, run_id) - before
        # Each message taken costs a few events (its own and an episode's); how many one execution
        # takes and holds is bounded, not the number sent.
        assert grown <= HISTORY_BOUND, f"{grown} history events after {accepted} accepted messages"
        assert api.post(f"/api/runs/{run_id}/approvals/{asked['call_id']}", json={"approve": True}).status_code == 202
        report = mesh.wait(run_id, timeout=180)["output"]
        transcript = _transcript(api, run_id)
    assert report["outcome"] == "completed"
    people = [m for m in transcript if m["role"] == "person"]
    assert len(people) == accepted
    assert all(m["status"] in ("taken", "refused") for m in people)
    # The run's own work after the storm (its task, memory, summary) adds a few dozen events at most.
    assert _history_events(mesh, run_id) <= before + HISTORY_BOUND + 60


def test_a_chat_run_answers_turns_survives_a_crash_idles_and_ends_at_its_ttl(mesh: Mesh) -> None:
    run_id = mesh.start_run({"mode": "chat", "approval": {"notes": "always"}, "options": {"idle_ttl_seconds": 60}})
    with mesh.api() as api:
        view = mesh.wait(run_id, until=lambda v: _progress(v).get("phase") == "idle")
        _say(api, run_id, "Ann", "What is 2 + 3?")
        wait_until(lambda: any(m["kind"] == "turn" for m in _transcript(api, run_id)), timeout=30)
        first = [m for m in _transcript(api, run_id) if m["kind"] == "turn"]
        assert "evaluateExpression returned" in first[0]["text"] and '"value":5.0' in first[0]["text"]

        _say(api, run_id, "Bo", "Write a note titled Chat log")
        view = mesh.wait(run_id, until=lambda v: bool(_progress(v).get("approvals")))
        call_id = _progress(view)["approvals"][0]["call_id"]
        assert api.post(f"/api/runs/{run_id}/approvals/{call_id}", json={"approve": True}).status_code == 202
        wait_until(lambda: len([m for m in _transcript(api, run_id) if m["kind"] == "turn"]) == 2, timeout=30)
        mesh.wait(run_id, until=lambda v: _progress(v).get("phase") == "idle")

    assert mesh.host is not None
    mesh.host.kill()  # between turns: the chat waits durably
    mesh.start_host()
    with mesh.api() as api:
        _say(api, run_id, "Ann", "What is 4 * 5?")
        wait_until(lambda: len([m for m in _transcript(api, run_id) if m["kind"] == "turn"]) == 3, timeout=60)
        turns = [m for m in _transcript(api, run_id) if m["kind"] == "turn"]
        assert '"value":20.0' in turns[2]["text"]
        with mesh.tool("notes") as notes:
            titles = [n["title"] for n in notes.get("/notes", params={"run_id": run_id}).json()["items"]]
        assert titles == ["Chat log"]
        mesh.wait(run_id, until=lambda v: _progress(v).get("phase") == "idle")
        view = mesh.wait(run_id, timeout=150)
    report = view["output"]
    assert (report["outcome"], report["stop_reason"]) == ("completed", "idle_ttl")
    assert [t["task"] for t in report["tasks"]] == ["What is 2 + 3?", "Write a note titled Chat log", "What is 4 * 5?"]


def test_aborting_a_turn_stops_its_work_and_leaves_the_chat_usable(mesh: Mesh) -> None:
    run_id = mesh.start_run({"mode": "chat", "model": "abortable", "approval": {"notes": "never"}})
    with mesh.api() as api:
        _say(api, run_id, "Ann", "Write a slow note please")
        view = mesh.wait(run_id, until=lambda v: bool((_progress(v).get("conversation") or {}).get("turn")))
        turn = _progress(view)["conversation"]["turn"]
        aborted = api.post(f"/api/runs/{run_id}/abort", json={"author": "Bo"})
        assert aborted.status_code == 202 and aborted.json()["turn"] == turn
        stopped = wait_until(
            lambda: [m for m in _transcript(api, run_id) if m["kind"] == "turn"], timeout=10, what="the turn's end"
        )
        assert stopped[0]["text"] == "(stopped: aborted by Bo)"
        # The slow model step would have asked for a note: neither the step's answer nor the call comes.
        _say(api, run_id, "Ann", "What is 6 * 7?")
        wait_until(lambda: len([m for m in _transcript(api, run_id) if m["kind"] == "turn"]) == 2, timeout=30)
        answer = [m for m in _transcript(api, run_id) if m["kind"] == "turn"][1]
        assert '"value":42.0' in answer["text"]
        with mesh.tool("notes") as notes:
            assert notes.get("/notes", params={"run_id": run_id}).json()["items"] == []
        assert api.get(f"/api/runs/{run_id}").json()["status"] == "Running"
        assert api.post(f"/api/runs/{run_id}/cancel").status_code == 202
    report = mesh.wait(run_id)["output"]
    assert report["tasks"][0]["result"] == "aborted by Bo"


def test_the_cli_says_reads_the_conversation_and_chats_with_approvals_inline(mesh: Mesh, tmp_path: Path) -> None:
    cli = Cli(mesh.url, mesh.keys["functions"], tmp_path)
    run_id = mesh.start_run({"objective": "Sum", "initial_tasks": ["Calculate 2 + 3"], "approval": {"calc": "always"}})
    mesh.wait(run_id, until=lambda v: bool(_progress(v).get("approvals")))
    said = cli("say", run_id, "Where are we?", "--as", "Ann", "--json")
    assert said.exit_code == 0, said.output
    assert json.loads(said.stdout)["status"] == "pending"
    with mesh.api() as api:
        wait_until(lambda: _message(_transcript(api, run_id), json.loads(said.stdout)["id"])["status"] == "taken")
    shown = cli("messages", run_id)
    assert shown.exit_code == 0 and "Ann: Where are we?  (taken -> answered)" in shown.stdout
    assert "[offline] Ann, so far" in shown.stdout
    assert cli("say", "no-such-run", "hi").exit_code == 2
    assert cli("cancel", run_id).exit_code == 0

    chat_id = mesh.start_run({"mode": "chat", "approval": {"notes": "always"}})
    asked: list[str] = []

    def approve(question: str) -> bool:
        asked.append(question)
        return True

    lines = iter(["Write a note titled From the terminal", "/quit"])
    out = Console(file=io.StringIO(), width=200)
    with ApiClient(ApiTarget(url=mesh.url, key=mesh.keys["functions"])) as client:
        chat_session(client, chat_id, lambda: next(lines), out, approve, author="Kim", interval=0.1)
    printed = out.file.getvalue()  # type: ignore[attr-defined]
    assert len(asked) == 1 and "createNote" in asked[0]
    assert "agent: [offline] Completed 'Write a note titled From the terminal'" in printed
    assert "left chat" in printed


def test_a_change_of_plan_replaces_the_pending_tasks(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {"objective": "Sums", "initial_tasks": ["Add 2 and 3 slowly", "Calculate 4 + 4"], "model": "slow"}
    )
    mesh.wait(run_id, until=lambda v: (_progress(v).get("current_task") or {}).get("id") == 1)
    with mesh.api() as api:
        sent = _say(api, run_id, "Dana", "Change of plan: calculate 9 * 9 instead")
        report = mesh.wait(run_id)["output"]
        transcript = _transcript(api, run_id)
    assert [t["task"] for t in report["tasks"]] == ["Add 2 and 3 slowly", "Calculate 9 * 9"], report
    assert '"value":81.0' in report["tasks"][1]["result"].replace(" ", "")
    assert _message(transcript, sent["id"])["outcome"] == "changed the plan: task 3: Calculate 9 * 9"
    assert any("Dana changed the plan: 1 pending task(s) dropped, 1 added" == e for e in report["events"])


def test_the_conversation_streams_to_watchers(mesh: Mesh) -> None:
    run_id = mesh.start_run({"mode": "chat"})
    with mesh.api() as api:
        sent = _say(api, run_id, "Ann", "What is 2 + 3?")

        def answered(event: SseEvent) -> bool:  # the agent's message, not the model's text streamed before it
            data = event.data
            said = data.get("type") == "TEXT_MESSAGE_CONTENT" and data["messageId"].startswith(f"{run_id}/a")
            return said and "evaluateExpression returned" in data.get("delta", "")

        reading = read_events(f"{mesh.url}/api/runs/{run_id}/events", mesh.keys["functions"], stop=answered, timeout=60)
        assert api.post(f"/api/runs/{run_id}/cancel").status_code == 202
    events = [e.data for e in reading.events]
    custom = [(e["name"], e["value"]) for e in events if e.get("type") == "CUSTOM"]
    assert ("toolmesh.message", sent) in custom
    assert any(n == "toolmesh.message_taken" and v["id"] == sent["id"] for n, v in custom)
    # The agent's messages in the conversation (besides the model's own streamed text): named by their author.
    said = [e for e in events if e.get("type") == "TEXT_MESSAGE_START" and e["messageId"].startswith(f"{run_id}/a")]
    assert [(e["messageId"], e["name"]) for e in said] == [(f"{run_id}/a1", "agent"), (f"{run_id}/a2", "agent")]
    ends = [e["messageId"] for e in events if e.get("type") == "TEXT_MESSAGE_END"]
    assert f"{run_id}/a1" in ends
