"""The messages for each model step.

The first line of every system message is a step marker such as ``[toolmesh:create_tasks]``
and the first user message is a JSON object: real models read the prose, and the gateway's
offline and scripted providers recognise the step and its fields without guessing.
"""

from __future__ import annotations

import json
from typing import Any

from .state import RunState, Task

__all__ = [
    "create_tasks_messages",
    "execute_task_messages",
    "messages_step_messages",
    "prioritize_messages",
    "summarize_messages",
]

Message = dict[str, Any]


def _system(step: str, text: str) -> Message:
    return {"role": "system", "content": f"[toolmesh:{step}]\n{text}"}


def _user(payload: dict[str, Any]) -> Message:
    return {"role": "user", "content": json.dumps(payload, ensure_ascii=False)}


def create_tasks_messages(state: RunState, last: Task | None, max_new: int) -> list[Message]:
    return [
        _system(
            "create_tasks",
            "You plan work for an autonomous agent. Given the objective, the last completed task and "
            "its result, and the tasks already done or pending, list the new tasks still needed to "
            "reach the objective. Do not repeat done or pending tasks. Answer with a JSON object: "
            '{"tasks": ["imperative task", ...], "objective_met": true|false}. '
            f"At most {max_new} new tasks; an empty list when nothing more is needed.",
        ),
        _user(
            {
                "objective": state.request["objective"],
                "last_task": {"task": last.task, "result": last.result or ""} if last else None,
                "done_tasks": [t.task for t in state.done],
                "pending_tasks": [t.task for t in state.pending],
                "max_new_tasks": max_new,
            }
        ),
    ]


def prioritize_messages(state: RunState) -> list[Message]:
    return [
        _system(
            "prioritize",
            "You order an agent's pending tasks so that the objective is reached soonest; tasks that "
            "others depend on come first. Answer with a JSON object "
            '{"order": [task ids]} that contains every given id exactly once.',
        ),
        _user(
            {
                "objective": state.request["objective"],
                "tasks": [{"id": t.id, "task": t.task} for t in state.pending],
            }
        ),
    ]


def execute_task_messages(
    state: RunState, task: Task, context: list[str], agent: str | None = None, instructions: str = ""
) -> list[Message]:
    """The task prompt; a named agent's instructions follow the general ones."""
    text = (
        "You are an agent completing one task toward an objective. Use the tools when they help; "
        "call several at once when they are independent. Tool results come back as tool messages; "
        "an error result tells you what to correct. When the task is done, answer with a short "
        "plain-text result that later tasks can build on."
    )
    payload: dict[str, Any] = {"objective": state.request["objective"], "task": task.task, "context": context}
    if agent is not None:
        payload["agent"] = agent
        if state.request.get("inputs"):
            payload["inputs"] = state.request["inputs"]
    return [_system("execute_task", f"{text}\n\n{instructions}" if instructions else text), _user(payload)]


def summarize_messages(state: RunState, stop_reason: str) -> list[Message]:
    return [
        _system(
            "summarize",
            "Write a short final report for the person who set the objective: what was done, the key "
            "results, and anything left open. Plain text, a few sentences.",
        ),
        _user(
            {
                "objective": state.request["objective"],
                "tasks": [{"task": t.task, "result": t.result or ""} for t in state.done],
                "stop_reason": stop_reason,
            }
        ),
    ]


def messages_step_messages(
    state: RunState, batch: list[dict[str, Any]], current: Task | None, chat: bool
) -> list[Message]:
    """The step that decides what people's messages mean for the run, and what to say back."""
    return [
        _system(
            "messages",
            "People watching an agent's run sent it messages. Decide what each one means for the run: "
            '"task" (work to add: give the tasks), "plan" (a change of plan: the given tasks replace the '
            'pending ones), "answer" (a question or remark to answer in the reply, no work), "stop" (the '
            'person wants the run to stop) or "chat" (nothing to do). '
            + ('This run is a chat: each piece of work a message asks for is a turn, so use "task". ' if chat else "")
            + 'Answer with a JSON object: {"decisions": [{"id": "message id", "meaning": "task|plan|answer|stop|chat", '
            '"tasks": ["imperative task", ...]}], "reply": "a short reply to the people"}.',
        ),
        _user(
            {
                "objective": state.request.get("objective") or "",
                "mode": "chat" if chat else "objective",
                "current_task": current.task if current else None,
                "done_tasks": [t.task for t in state.done[-10:]],
                "pending_tasks": [t.task for t in state.pending],
                "conversation": [f"{m['author']}: {m['text']}" for m in state.conversation[-10:]],
                "messages": [{"id": m["id"], "author": m["author"], "text": m["text"]} for m in batch],
            }
        ),
    ]
