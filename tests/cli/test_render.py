"""What the terminal shows for a run, and which exit code a finished run gives."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from toolmesh_cli.follow import ChangeLog
from toolmesh_cli.render import exit_code_for, render_run
from toolmesh_cli.schemas import RunStatus

PROGRESS: dict[str, Any] = {
    "phase": "waiting",
    "iteration": 1,
    "current_task": {"id": 2, "task": "remove the draft"},
    "pending": [{"id": 3, "task": "tell the team"}],
    "done": [{"id": 1, "task": "find the draft", "result": "found note 7"}],
    "tool_calls": [
        {
            "call_id": "c1",
            "task_id": 1,
            "function": "notes_searchNotes",
            "arguments": '{"q":"draft"}',
            "ok": True,
            "status": 200,
            "summary": "1 hit",
        },
    ],
    "approvals": [{"call_id": "c2", "tool": "notes", "function": "notes_deleteNote", "arguments": '{"id":7}'}],
    "waiting": [{"call_id": "c3", "function": "mailbox_sendMessage", "message": "Is Friday fine?"}],
    "usage": {
        "llm_calls": 3,
        "prompt_tokens": 300,
        "completion_tokens": 40,
        "total_tokens": 340,
        "tool_calls": 1,
    },
    "execution": 0,
    "pending_count": 1,
}


def _text(run: RunStatus) -> str:
    console = Console(record=True, width=160)
    console.print(render_run(run))
    return console.export_text()


def test_run_view_shows_tasks_calls_and_what_needs_a_person() -> None:
    run = RunStatus.model_validate({"id": "r1", "status": "Running", "objective": "tidy", "progress": PROGRESS})
    text = _text(run)
    assert "found note 7" in text and "remove the draft" in text and "tell the team" in text
    assert "notes_searchNotes" in text and "1 hit" in text
    assert "toolmesh approve r1 c2 [--deny]" in text
    assert 'toolmesh reply r1 c3 "text"' in text
    assert "340 tokens" in text


def test_failed_run_shows_its_error_and_exits_one() -> None:
    run = RunStatus.model_validate({"id": "r1", "status": "Failed", "objective": "x", "output": "boom: no catalog"})
    assert run.failure == "boom: no catalog" and run.output is None
    assert "boom: no catalog" in _text(run)
    assert exit_code_for(run) == 1


def _finished(outcome: str, status: str = "Completed") -> RunStatus:
    report = {"objective": "x", "outcome": outcome, "stop_reason": "why", "summary": "s"}
    return RunStatus.model_validate({"id": "r", "status": status, "output": report})


def test_exit_codes_follow_the_outcome() -> None:
    assert exit_code_for(_finished("completed")) == 0
    assert exit_code_for(_finished("budget_exhausted")) == 0
    assert exit_code_for(_finished("cancelled")) == 3
    assert exit_code_for(_finished("failed")) == 1
    assert exit_code_for(_finished("completed_with_failures")) == 1
    assert exit_code_for(RunStatus(id="r", status="Terminated")) == 1


def test_change_log_reports_each_change_once() -> None:
    log = ChangeLog()
    run = RunStatus.model_validate({"id": "r1", "status": "Running", "objective": "tidy", "progress": PROGRESS})
    first = list(log.changes(run))
    assert any(line.startswith("approval needed: notes_deleteNote") for line in first)
    assert any("toolmesh reply r1 c3" in line for line in first)
    assert list(log.changes(run)) == []
    away = {"kind": "model", "name": "execute_task", "retry": 2, "next_at": "T", "error": "could not reach the gateway"}
    again = RunStatus.model_validate(
        {"id": "r1", "status": "Running", "objective": "tidy", "progress": {**PROGRESS, "retrying": [away]}}
    )
    assert list(log.changes(again)) == [
        "model execute_task waits for its dependency (retry 2 at T): could not reach the gateway"
    ]


def test_text_from_the_run_is_never_read_as_markup() -> None:
    progress = {**PROGRESS, "done": [{"id": 1, "task": "[bold]x[/] and [/]", "result": "[red]r"}]}
    run = RunStatus.model_validate({"id": "r1", "status": "Running", "objective": "[/]", "progress": progress})
    text = _text(run)
    assert "[bold]x[/] and [/]" in text and "[red]r" in text
