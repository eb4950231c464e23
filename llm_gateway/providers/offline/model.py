"""The offline model: deterministic answers to the orchestrator's steps, with no network.

It lets a whole agent run work on a fresh clone with no model configured, and makes tests
reproducible. Every answer says it came from here: ``model`` is "offline", the fingerprint
"toolmesh-offline", and text answers start with "[offline] ". The step is read from the marker
on the first line of the system message (``[toolmesh:create_tasks]`` and so on) and the
step's input from the first user message, a JSON object.
"""

from __future__ import annotations

import json
import re
from typing import Any

from llm_gateway.adapters.completions import LocalAnswer, ToolCall, estimate_tokens
from llm_gateway.providers.base import Usage
from llm_gateway.providers.offline.conversation import decide_messages
from llm_gateway.providers.offline.planner import create_tasks, prioritize
from llm_gateway.providers.offline.tools import ToolSpec, choose_tool, fill_arguments, tool_specs

__all__ = [
    "OFFLINE_FINGERPRINT",
    "OFFLINE_MODEL",
    "OFFLINE_PREFIX",
    "answer",
    "message_text",
    "step_input",
    "step_marker",
]

OFFLINE_MODEL = "offline"
OFFLINE_FINGERPRINT = "toolmesh-offline"
OFFLINE_PREFIX = "[offline] "
_MARKER = re.compile(r"^\s*\[toolmesh:([a-z_]+)\]")
_EXCERPT = 240


def message_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def step_marker(messages: list[dict[str, Any]]) -> str | None:
    """The orchestrator step named on the first line of the (first) system message."""
    for message in messages:
        if message.get("role") in ("system", "developer"):
            match = _MARKER.match(message_text(message.get("content")))
            return match.group(1) if match else None
    return None


def step_input(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The first user message parsed as the step's JSON input ({} when it is not JSON)."""
    for message in messages:
        if message.get("role") == "user":
            try:
                parsed = json.loads(message_text(message.get("content")))
            except ValueError:
                return {}
            return parsed if isinstance(parsed, dict) else {}
    return {}


def _excerpt(text: str, limit: int = _EXCERPT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _tool_error(content: str) -> str | None:
    """The error message if a tool result reports a failure, else None."""
    stripped = content.strip()
    try:
        parsed = json.loads(stripped)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        if parsed.get("error") not in (None, False, ""):
            error = parsed["error"]
            if isinstance(error, dict):
                return str(error.get("message") or error.get("detail") or json.dumps(error))
            return str(error)
        status = parsed.get("status_code", parsed.get("status"))
        if isinstance(status, int) and status >= 400:
            return str(parsed.get("detail") or parsed.get("message") or f"HTTP {status}")
        if parsed.get("ok") is False:
            return str(parsed.get("detail") or parsed.get("message") or "the tool reported failure")
    if re.match(r"^(error|exception|failed)\b|^HTTP [45]\d\d", stripped, re.IGNORECASE):
        return stripped
    return None


def _after_last_user(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    return messages[last_user + 1 :]


def _call_names(messages: list[dict[str, Any]]) -> dict[str, str]:
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                names[str(call.get("id"))] = str(call["function"].get("name"))
    return names


def _report_tool_results(task: str, messages: list[dict[str, Any]], results: list[dict[str, Any]]) -> str:
    names = _call_names(messages)
    failures, successes = [], []
    for result in results:
        name = names.get(str(result.get("tool_call_id")), "the tool")
        content = message_text(result.get("content"))
        error = _tool_error(content)
        if error is not None:
            failures.append(f"{name} failed: {_excerpt(error, 160)}")
        else:
            successes.append(f"{name} returned {_excerpt(content, 200)}")
    if failures:
        done = f" Other results: {'; '.join(successes)}." if successes else ""
        return f"{OFFLINE_PREFIX}Could not complete '{task}': {'; '.join(failures)}.{done}"
    return f"{OFFLINE_PREFIX}Completed '{task}': {'; '.join(successes)}."


def _honour_tool_choice(choice: Any, task: str, tools: list[ToolSpec]) -> ToolSpec | None:
    """The tool to call under OpenAI's ``tool_choice``: none, auto (best match), required, or a name."""
    if choice == "none" or not tools:
        return None
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name") if isinstance(choice.get("function"), dict) else None
        named = next((t for t in tools if t.name == wanted), None)
        if named is not None:
            return named
    best = choose_tool(task, tools)
    if best is None and choice == "required":
        return tools[0]
    return best


def _execute(request: dict[str, Any], messages: list[dict[str, Any]]) -> tuple[str | None, tuple[ToolCall, ...]]:
    data = step_input(messages)
    task = str(data.get("task") or "")
    context = [str(c) for c in data.get("context") or [] if c]
    results = [m for m in _after_last_user(messages) if m.get("role") == "tool"]
    if results:
        return _report_tool_results(task, messages, results), ()
    tools = tool_specs(request.get("tools"))
    tool = _honour_tool_choice(request.get("tool_choice"), task, tools)
    if tool is None:
        reason = "no tool was offered" if not tools else "no offered tool fits it"
        return f"{OFFLINE_PREFIX}Noted '{task}'; {reason}, so it is answered in text only.", ()
    arguments = fill_arguments(tool, task, context)
    earlier_calls = sum(len(m.get("tool_calls") or []) for m in messages if m.get("role") == "assistant")
    call = ToolCall(id=f"call_{earlier_calls + 1}", name=tool.name, arguments=json.dumps(arguments, ensure_ascii=False))
    return None, (call,)


def _summarize(data: dict[str, Any]) -> str:
    objective = _excerpt(str(data.get("objective") or ""), 160)
    tasks = [t for t in data.get("tasks") or [] if isinstance(t, dict)]
    lines = [
        f"{OFFLINE_PREFIX}Report on '{objective}': {len(tasks)} task(s) done, "
        f"stopped because {data.get('stop_reason') or 'the loop ended'}."
    ]
    for item in tasks:
        lines.append(f"- {_excerpt(str(item.get('task', '')), 100)}: {_excerpt(str(item.get('result', '')), 160)}")
    return "\n".join(lines)


def _route(data: dict[str, Any]) -> dict[str, str]:
    """The agent whose name and description share the most words with the task (the first on a tie)."""
    words = set(re.findall(r"[a-z0-9]+", str(data.get("task") or "").lower()))
    agents = [a for a in data.get("agents") or [] if isinstance(a, dict) and a.get("name")]
    if not agents:
        return {"agent": "", "reason": "no agents were offered"}

    def overlap(agent: dict[str, Any]) -> int:
        text = f"{agent['name']} {agent.get('description') or ''}".replace("_", " ").lower()
        return len(words & set(re.findall(r"[a-z0-9]+", text)))

    best = max(agents, key=overlap)  # max keeps the first of equals
    reason = f"{OFFLINE_PREFIX}{overlap(best)} word(s) of the task match its description"
    return {"agent": str(best["name"]), "reason": reason}


def _fallback(request: dict[str, Any], messages: list[dict[str, Any]]) -> str:
    last = next((message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "user"), "")
    text = (
        f"{OFFLINE_PREFIX}This is the offline model (no language model is configured). "
        f"It read {len(messages)} message(s); the last user message was: {_excerpt(last, 160)!r}"
    )
    response_format = request.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") in ("json_object", "json_schema"):
        return json.dumps({"offline": True, "answer": text})
    return text


def answer(request: dict[str, Any]) -> LocalAnswer:
    """The offline answer to a chat completion request (pure: same request, same answer)."""
    messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
    step = step_marker(messages)
    content: str | None
    calls: tuple[ToolCall, ...] = ()
    if step == "create_tasks":
        content = json.dumps(create_tasks(step_input(messages)))
    elif step == "prioritize":
        content = json.dumps(prioritize(step_input(messages)))
    elif step == "execute_task":
        content, calls = _execute(request, messages)
    elif step == "summarize":
        content = _summarize(step_input(messages))
    elif step == "route":
        content = json.dumps(_route(step_input(messages)))
    elif step == "messages":
        content = json.dumps(decide_messages(step_input(messages)))
    else:
        content = _fallback(request, messages)
    prompt = estimate_tokens(messages) + (estimate_tokens(request["tools"]) if request.get("tools") else 0)
    completion = estimate_tokens(content or "") + sum(estimate_tokens(c.arguments) + 4 for c in calls)
    return LocalAnswer(
        model=OFFLINE_MODEL,
        fingerprint=OFFLINE_FINGERPRINT,
        content=content,
        tool_calls=calls,
        usage=Usage(prompt_tokens=prompt, completion_tokens=completion, estimated=True),
    )
