"""What a run carries of its conversation in history: the recent messages and a bounded digest."""

from __future__ import annotations

import json
from types import SimpleNamespace

from agent_loop import conversation
from agent_loop.state import RunState


def _run() -> SimpleNamespace:
    return SimpleNamespace(
        state=RunState(request={"objective": "x"}, run_id="r", started_at="2026-01-01T00:00:00+00:00")
    )


def test_the_state_keeps_the_recent_messages_whole_and_a_bounded_digest_of_the_rest() -> None:
    run = _run()
    for number in range(1000):
        conversation._remember(run, "person", "Ann", f"message {number} " + "x" * 2000, "2026-01-01T00:00:00")  # type: ignore[arg-type]
    state = run.state
    assert [m["text"].split()[1] for m in state.conversation] == [str(n) for n in range(980, 1000)]
    assert len(state.conversation_summary) <= conversation.DIGEST_CHARS
    assert "message 979" in state.conversation_summary  # the last one to leave the recent list
    carried = len(json.dumps(RunState.from_dict(state.to_dict()).to_dict()))
    assert carried < 30_000, carried  # what continue-as-new carries, after a thousand long messages


def test_a_message_delivered_twice_is_held_once() -> None:
    run = _run()
    message = {"id": "m-1", "author": "Ann", "text": "hello", "at": "t"}
    conversation.receive(run, message)  # type: ignore[arg-type]
    conversation.receive(run, dict(message))  # type: ignore[arg-type]  # the same message again (event and catch-up)
    conversation.receive(run, {"text": "no id"})  # type: ignore[arg-type]
    assert [m["id"] for m in run.state.inbox] == ["m-1"]
