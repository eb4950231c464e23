"""The run's side of its conversation: people's messages in, the agent's replies and questions out.

Deterministic orchestrator code. A person's message is an external event (``message``) on the
run. One wait for it (the inbox) is part of every race the run makes, beside the task it waits
for and cancel, so a message is received whenever it comes: between steps, during a slow model
step, during a wait for an approval or a callback. Receiving never gives up the wait in
progress: the run takes the message (a ``messages`` model step decides what it means: a new
task, a change of plan, an answer, a stop) and goes back to the same wait, whose timer still
runs. Keeping one inbox wait open at all times also matters to the SDK: an event with no wait
open is parked in a single slot per name, where a second one would overwrite it.

History stays bounded: the state keeps the recent messages and a short digest of older ones,
the whole transcript goes to the conversation store through an activity, and a run that has
taken many messages continues as new. Messages still pending in the store when an execution
starts are taken then (their events may have been dropped by a continue-as-new).

A chat run (``mode: chat``) has no objective: it idles on the inbox and a timer (no compute),
and each message asking for work is a turn, executed like a task. A person may abort the
turn in progress (event ``abort-<turn>``): its waits end at once, its activities stop their
work (see agent_loop.turn_abort), and the chat goes on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from azure.durable_functions.models.Task import TaskBase

from openapi_engine import ToolFunction

from .activity_contracts import PendingMessagesInput, RecordConversationInput
from .conversation_activities import pending_messages, record_conversation
from .message_meaning import parse_meaning
from .planning import add_new_tasks, budget_stop, one_line
from .prompts import messages_step_messages
from .run_signals import CANCEL_EVENT, RunCancelled, RunStopped, TurnAborted
from .state import Task

if TYPE_CHECKING:
    from .orchestration import AgentRun

__all__ = [
    "ABORT_PREFIX",
    "ASK_FUNCTION",
    "MESSAGE_EVENT",
    "TurnAborted",
    "abort_event",
    "ask_function",
    "ask_requested",
    "catch_up",
    "chat",
    "close",
    "conversation_view",
    "heard",
    "listeners",
    "take_messages",
]

Steps = Generator[Any, Any, Any]

MESSAGE_EVENT = "message"
ABORT_PREFIX = "abort-"
ASK_FUNCTION = "ask_people"
RECENT_KEPT = 20
"""Messages the state keeps whole; older ones are folded into the digest."""
DIGEST_CHARS = 2000
SEEN_KEPT = 200
BATCH = 20
"""Messages one ``messages`` step decides on at most."""
MESSAGES_PER_EXECUTION = 40
"""Messages taken per execution before the run continues as new (history stays bounded)."""
CHAT_TASKS_KEPT = 20
"""A chat's finished turns carried into the next execution (the transcript has them all)."""
CHAT_TIMELINE_KEPT = 200
"""A chat's timeline entries and events carried into the next execution."""
STATUS_ROOM = 16_000
"""Characters the whole progress may take (the Durable extension caps custom status at 16 KB)."""


def abort_event(turn: str) -> str:
    return f"{ABORT_PREFIX}{turn}"


# -- receiving ---------------------------------------------------------------------------------


def listeners(run: AgentRun) -> list[TaskBase]:
    """The waits every race of the run includes besides its own: the inbox and the turn's abort."""
    if not run.takes_messages:
        return []
    if run.inbox is None:
        run.inbox = run.context.wait_for_external_event(MESSAGE_EVENT)
    found = [run.inbox]
    if run.turn is not None:
        if run.abort is None:
            run.abort = run.context.wait_for_external_event(abort_event(run.turn))
        found.append(run.abort)
    return found


def _event_payload(value: Any) -> Any:
    from .orchestration import _event_payload as decode  # one decoder for every event

    return decode(value)


def receive(run: AgentRun, payload: Any) -> None:
    """Hold a delivered message for taking, once, whatever path delivered it."""
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), str):
        return
    if payload["id"] in run.state.seen_messages:
        return
    run.state.seen_messages.append(payload["id"])
    del run.state.seen_messages[:-SEEN_KEPT]
    run.state.inbox.append(
        {
            "id": payload["id"],
            "author": one_line(str(payload.get("author") or "someone"), 64),
            "text": str(payload.get("text") or "")[:4000],
            "at": str(payload.get("at") or ""),
        }
    )


def heard(run: AgentRun, winner: TaskBase) -> Steps:
    """One of :func:`listeners` won a race: receive the message (and take it now if the run may)."""
    if winner is run.abort and run.abort is not None:
        payload = _event_payload(run.abort.result)
        run.abort = None
        author = str(payload.get("author") or "someone") if isinstance(payload, dict) else "someone"
        raise TurnAborted(one_line(author, 64))
    run.inbox = None
    receive(run, _event_payload(winner.result))
    if run.asking or run.taking or run.closing:
        return
    yield from take_messages(run)


def catch_up(run: AgentRun) -> Steps:
    """Receive the messages the store holds for the run and it has not taken (at an execution's start)."""
    if not run.takes_messages:
        return
    found = yield from run._activity(pending_messages, PendingMessagesInput(run_id=run.state.run_id).payload())
    for message in found or []:
        receive(run, message)


# -- taking ------------------------------------------------------------------------------------


def _remember(run: AgentRun, role: str, author: str, text: str, at: str) -> None:
    state = run.state
    state.conversation.append({"role": role, "author": author, "text": one_line(text, 1000), "at": at})
    while len(state.conversation) > RECENT_KEPT:
        old = state.conversation.pop(0)
        state.conversation_summary = (state.conversation_summary + f"\n{old['author']}: {one_line(old['text'], 160)}")[
            -DIGEST_CHARS:
        ]


def _say(run: AgentRun, text: str, kind: str) -> dict[str, Any]:
    """An agent message: remembered in the state, and returned for the store."""
    run.state.said += 1
    at = run._now_iso()
    author = run.agent.name if run.agent is not None else "agent"
    _remember(run, "agent", author, text, at)
    return {"id": f"a{run.state.said}", "author": author, "text": text, "kind": kind, "at": at}


def record(run: AgentRun, taken: list[dict[str, Any]], said: list[dict[str, Any]], closing: str = "") -> Steps:
    """Write to the conversation store (an activity); the run goes on if the store fails."""
    given: dict[str, Any] = {"closing": closing} if closing else {}
    payload = RecordConversationInput(run_id=run.state.run_id, taken=taken, said=said, **given)
    try:
        yield from run._activity(record_conversation, payload.payload())
    except RunCancelled:
        raise
    except Exception as exc:
        run.state.events.append(f"the conversation store did not take an update: {one_line(str(exc), 200)}")
    run.show_conversation()


def take_messages(run: AgentRun) -> Steps:
    """Decide what the held messages mean and act on it: tasks, a new plan, answers, a stop."""
    while run.state.inbox and not run.taking and run.taken_here < MESSAGES_PER_EXECUTION:
        run.taking = True
        try:
            batch = run.state.inbox[:BATCH]
            chat_mode = run.request.mode == "chat"
            current = run._executing
            answer = yield from run._model("messages", _step_prompt(run, batch, current, chat_mode))
            del run.state.inbox[: len(batch)]
            run.taken_here += len(batch)
            texts = {m["id"]: m["text"] for m in batch}
            meaning = parse_meaning(answer.content, [m["id"] for m in batch], texts)
            taken, stop_by = [], None
            for message, decision in zip(batch, meaning.decisions, strict=True):
                _remember(run, "person", message["author"], message["text"], message["at"])
                outcome = _apply(run, message, decision.meaning, decision.tasks, chat_mode)
                taken.append({"id": message["id"], "outcome": outcome})
                if decision.meaning == "stop" and stop_by is None:
                    stop_by = message
            run.state.last_message_at = run._now_iso()
            said = [_say(run, meaning.reply, "reply")] if meaning.reply else []
            yield from record(run, taken, said)
        finally:
            run.taking = False
        if stop_by is not None:
            raise RunStopped(stop_by["author"], stop_by["text"])


def _step_prompt(
    run: AgentRun, batch: list[dict[str, Any]], current: Task | None, chat_mode: bool
) -> Callable[[], list[dict[str, Any]]]:
    return lambda: messages_step_messages(run.state, batch, current, chat_mode)


def _apply(run: AgentRun, message: dict[str, Any], meaning: str, tasks: list[str], chat_mode: bool) -> str:
    """Change the run as one message asks; the outcome, as the transcript shows it."""
    state = run.state
    who = message["author"]
    if meaning == "stop":
        state.events.append(f"{who} asked the run to stop")
        return "stopped the run"
    if meaning == "plan":
        dropped = [t.task for t in state.pending]
        state.pending.clear()
        added = add_new_tasks(state, tasks, len(tasks))
        state.events.append(f"{who} changed the plan: {len(dropped)} pending task(s) dropped, {len(added)} added")
        return "changed the plan: " + "; ".join(f"task {t.id}: {t.task}" for t in added)
    if meaning == "task":
        added = (
            [state.add_task(one_line(t, 500)) for t in tasks] if chat_mode else add_new_tasks(state, tasks, len(tasks))
        )
        if not added:
            return "already planned"
        state.events.append(f"{who} added {len(added)} task(s)")
        return ("turn " if chat_mode else "added ") + "; ".join(f"task {t.id}: {t.task}" for t in added)
    if meaning == "answer":
        return "answered"
    return "noted"


# -- asking ------------------------------------------------------------------------------------


def ask_function() -> ToolFunction:
    """The built-in function every step is offered: ask the run's people and wait for the answer."""
    return ToolFunction(
        name=ASK_FUNCTION,
        tool="toolmesh",
        operation_id=ASK_FUNCTION,
        method="ASK",
        path="",
        description=(
            "Ask the people watching this run a question and wait for their answer (the next message "
            "anyone sends). Use it when you need a decision or a fact only they have."
        ),
        parameters={
            "type": "object",
            "properties": {"question": {"type": "string", "minLength": 1, "maxLength": 2000}},
            "required": ["question"],
            "additionalProperties": False,
        },
    )


def ask_requested(run: AgentRun, task: Task, call_id: str, arguments: dict[str, Any]) -> Steps:
    """Post the question, wait for the next message (raced with a timeout and cancel); its text is the answer."""

    question = str(arguments["question"]).strip()
    yield from record(run, [], [_say(run, question, "question")])
    seconds = run.request.options.ask_timeout_seconds
    deadline = min(run.context.current_utc_datetime + timedelta(seconds=seconds), run._run_deadline())
    entry = {
        "call_id": call_id,
        "function": ASK_FUNCTION,
        "kind": "question",
        "since": run._now_iso(),
        "expires_at": deadline.isoformat(),
        "message": one_line(question, 300),
    }
    run.waiting.append(entry)
    run._status("waiting", task)
    already = len(run.state.inbox)
    timer = run.context.create_timer(deadline)
    cancel = run.context.wait_for_external_event(CANCEL_EVENT)
    run.asking = True
    try:
        while len(run.state.inbox) <= already:
            run._show_if_stale()
            winner = yield run.context.task_any([timer, cancel, *listeners(run)])
            if winner is cancel:
                timer.cancel()
                raise RunCancelled()
            if winner is timer:
                break
            yield from heard(run, winner)
    except BaseException:
        if not timer.is_completed:
            timer.cancel()
        raise
    finally:
        run.asking = False
        run.waiting.remove(entry)
    if len(run.state.inbox) <= already:
        run._status("executing", task)
        return f"no answer: no one answered within {seconds} seconds; carry on without it", False
    timer.cancel()
    answer = run.state.inbox.pop(already)
    run.taken_here += 1
    _remember(run, "person", answer["author"], answer["text"], answer["at"])
    run.state.last_message_at = run._now_iso()
    yield from record(run, [{"id": answer["id"], "outcome": f"answered the question of call {call_id}"}], [])
    run._status("executing", task)
    return f"{answer['author']} answered: {answer['text']}", True


# -- chat runs ---------------------------------------------------------------------------------


def _idle_until(run: AgentRun) -> datetime:
    since = datetime.fromisoformat(run.state.last_message_at or run.state.started_at)
    return since + timedelta(seconds=run.request.options.idle_ttl_seconds)


def chat(run: AgentRun) -> Steps:
    """A chat run's loop; returns (outcome, stop reason), or None after continuing as new."""

    turns_here = 0
    while True:
        stop = budget_stop(run.state, run.context.current_utc_datetime, chat=True)
        if stop:
            return "budget_exhausted", stop
        yield from take_messages(run)
        if run.state.pending:
            yield from turn(run, run.state.pending.pop(0))
            turns_here += 1
            continue
        if turns_here >= run.request.options.continue_every or run.taken_here >= MESSAGES_PER_EXECUTION:
            # A chat may go on for weeks: carry the recent turns; the transcript has them all.
            del run.state.done[:-CHAT_TASKS_KEPT]
            del run.state.timeline[:-CHAT_TIMELINE_KEPT]
            del run.state.events[:-CHAT_TIMELINE_KEPT]
            run._status("continuing")
            run.context.continue_as_new({"state": run.state.to_dict()})
            return None
        until = _idle_until(run)
        now = run.context.current_utc_datetime
        if now >= until:
            return "completed", "idle_ttl"
        run._status("idle")
        run._show_if_stale()
        timer = run.context.create_timer(min(until, run._run_deadline()))
        cancel = run.context.wait_for_external_event(CANCEL_EVENT)
        winner = yield run.context.task_any([timer, cancel, *listeners(run)])
        if winner is not timer:
            timer.cancel()
        if winner is cancel:
            raise RunCancelled()
        if winner is not timer:
            yield from heard(run, winner)


def turn(run: AgentRun, task: Task) -> Steps:
    """One chat turn: the task by the tool-calling sub-loop; its result is the agent's reply."""
    run.state.turns += 1
    run.turn, run.abort = f"t{run.state.turns}", None
    run._executing = task
    run._status("executing", task)
    context = [f"{m['author']}: {m['text']}" for m in run.state.conversation[-10:]]
    try:
        yield from run._run_task(task, context)
        reply = task.result or ""
    except TurnAborted as exc:
        task.result = f"aborted by {exc.author}"
        run.state.events.append(f"turn {run.turn} (task {task.id}) aborted by {exc.author}")
        reply = f"(stopped: {task.result})"
        run.approvals = []
        run.waiting = []
    finally:
        run.turn, run.abort = None, None
    run._executing = None
    run.state.done.append(task)
    run.state.iteration += 1
    yield from record(run, [], [_say(run, reply, "turn")])


def close(run: AgentRun, outcome: str, stop_reason: str) -> Steps:
    """At the end of the run: messages still waiting are refused in the store, with why."""
    if not run.takes_messages:
        return
    run.closing = True
    left = run.state.inbox
    taken = [{"id": m["id"], "outcome": f"not taken: the run ended ({stop_reason})"} for m in left]
    run.state.inbox = []
    yield from record(run, taken, [], closing=f"not taken: the run ended ({outcome}: {stop_reason})")


def conversation_view(run: AgentRun, used: int) -> dict[str, Any]:
    """The conversation part of the run's progress, in what is left of the status's room after ``used``."""
    shown, chars = 10, 300
    while True:
        view = {
            "messages": [{**m, "text": one_line(m["text"], chars)} for m in run.state.conversation[-shown:]],
            "waiting_messages": len(run.state.inbox),
            "turn": run.turn,
            "mode": run.request.mode,
        }
        if used + len(json.dumps(view)) <= STATUS_ROOM or shown == 0:
            return view
        shown, chars = shown // 2, max(60, chars // 2)
