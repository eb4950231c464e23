"""The scripted provider: replays a conversation file, for tests and demos.

Matching is stateless: an answer depends only on the request, never on how many requests came
before, so a request retried after a crash gets the same answer. The file is YAML or JSON and
is re-read when it changes::

    model: scripted-demo              # the "model" reported in answers (default "scripted")
    on_no_match: error                # or "offline": answer like the offline provider
    entries:                          # the first entry whose conditions all hold answers
      - match:                        # every key optional; an empty match matches everything
          step: execute_task          # marker on the system message's first line ([toolmesh:<step>])
          task_contains: "weather"    # substring (case-insensitive) of the step input's "task"
          objective_contains: "Rome"  # ... of its "objective"
          message_contains: "hello"   # ... of the last user message
          tool_messages: 0            # tool messages after the last user message (0 = no results yet)
          tool_contains: "no answer"  # substring (case-insensitive) of the last tool message
          done_tasks: 1               # len(done_tasks) in a create_tasks input
          pending_tasks: 0            # len(pending_tasks) in a create_tasks input
          has_tools: true             # whether the request offers tools
          model: demo                 # the alias the client asked for
          agent: technical            # the agent of a network executing the task (its step input's "agent")
        respond:
          content: "Plain text"       # or json: {tasks: [...], objective_met: false} (serialised for you)
          tool_calls:                 # parallel calls allowed; names and arguments are sent as given,
            - name: get_weather       # so deliberately wrong names or invalid arguments are possible
              arguments: {city: Paris}          # a mapping (serialised) or a raw string: '{"city": '
              id: call_w1                       # optional; default call_<n>
          usage: {prompt_tokens: 10, completion_tokens: 5}   # optional; estimated otherwise
          delay_ms: 200               # optional wait before answering (streams: before the first chunk)
          status: 429                 # optional HTTP error instead of an answer
          error: {message: "slow down", type: rate_limit_exceeded, code: null}
          retry_after: 1              # optional Retry-After (seconds) with status

A network's routing step is ``step: route`` (its input has "task" and "agents"); answer it with
``json: {agent: technical, reason: "..."}``. A handoff is a tool call of ``handoff_to_agent``
with ``{agent, reason, note}``, matched per agent with ``agent:``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_gateway.adapters.completions import LocalAnswer, ToolCall, estimate_tokens
from llm_gateway.errors import ConfigError, UpstreamError
from llm_gateway.providers.base import Usage
from llm_gateway.providers.local import LocalProvider
from llm_gateway.providers.offline.model import answer, message_text, step_input, step_marker

__all__ = ["Script", "ScriptedProvider", "load_script"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Match(_Strict):
    step: str | None = None
    task_contains: str | None = None
    objective_contains: str | None = None
    message_contains: str | None = None
    tool_messages: int | None = Field(default=None, ge=0)
    tool_contains: str | None = None
    done_tasks: int | None = Field(default=None, ge=0)
    pending_tasks: int | None = Field(default=None, ge=0)
    has_tools: bool | None = None
    model: str | None = None
    agent: str | None = None


class ScriptedCall(_Strict):
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    id: str | None = None


class Respond(_Strict):
    content: str | None = None
    json_: dict[str, Any] | list[Any] | None = Field(default=None, alias="json")
    tool_calls: list[ScriptedCall] = Field(default_factory=list)
    usage: dict[str, int] | None = None
    delay_ms: float = Field(default=0, ge=0)
    status: int | None = Field(default=None, ge=400, le=599)
    error: dict[str, Any] | None = None
    retry_after: float | None = Field(default=None, ge=0)


class Entry(_Strict):
    match: Match = Match()
    respond: Respond


class Script(_Strict):
    model: str = "scripted"
    on_no_match: Literal["error", "offline"] = "error"
    entries: list[Entry] = Field(default_factory=list)


def load_script(path: Path) -> Script:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read script {path}: {exc.strerror}") from exc
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"script {path} does not parse: {exc}") from exc
    try:
        return Script.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"script {path} is invalid: {problems}") from exc


@dataclass(frozen=True, kw_only=True, slots=True)
class _Facts:
    """What matching looks at, computed once per request."""

    model: str
    step: str | None
    data: dict[str, Any]
    last_user: str
    tool_messages: int
    last_tool: str
    has_tools: bool


def _facts(body: dict[str, Any], alias: str) -> _Facts:
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    last_user_index = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    last_user = message_text(messages[last_user_index].get("content")) if last_user_index >= 0 else ""
    tools_after = sum(1 for m in messages[last_user_index + 1 :] if m.get("role") == "tool")
    last_tool = next((message_text(m.get("content")) for m in reversed(messages) if m.get("role") == "tool"), "")
    return _Facts(
        model=alias,
        step=step_marker(messages),
        data=step_input(messages),
        last_user=last_user,
        tool_messages=tools_after,
        last_tool=last_tool,
        has_tools=bool(body.get("tools")),
    )


def _contains(haystack: Any, needle: str | None) -> bool:
    return needle is None or needle.lower() in str(haystack or "").lower()


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def matches(match: Match, facts: _Facts) -> bool:
    return (
        (match.step is None or match.step == facts.step)
        and _contains(facts.data.get("task"), match.task_contains)
        and _contains(facts.data.get("objective"), match.objective_contains)
        and _contains(facts.last_user, match.message_contains)
        and (match.tool_messages is None or match.tool_messages == facts.tool_messages)
        and _contains(facts.last_tool, match.tool_contains)
        and (match.done_tasks is None or match.done_tasks == _count(facts.data.get("done_tasks")))
        and (match.pending_tasks is None or match.pending_tasks == _count(facts.data.get("pending_tasks")))
        and (match.has_tools is None or match.has_tools == facts.has_tools)
        and (match.model is None or match.model == facts.model)
        and (match.agent is None or match.agent == facts.data.get("agent"))
    )


class ScriptedProvider(LocalProvider):
    kind = "scripted"
    embedding_model = "scripted-embedding"

    def __init__(self, *, path: Path, label: str, timeout: float = 60.0) -> None:
        super().__init__(label=label, timeout=timeout)
        self.path = path
        self._script = load_script(path)
        self._mtime = path.stat().st_mtime_ns

    def script(self) -> Script:
        """The script, re-read if the file changed (a broken edit keeps the last good version)."""
        try:
            mtime = self.path.stat().st_mtime_ns
        except OSError:
            return self._script
        if mtime != self._mtime:
            self._mtime = mtime
            try:
                self._script = load_script(self.path)
            except ConfigError:
                pass
        return self._script

    async def local_answer(self, body: dict[str, Any]) -> LocalAnswer:
        script = self.script()
        facts = _facts(body, str(body.get("model") or ""))
        entry = next((e for e in script.entries if matches(e.match, facts)), None)
        if entry is None:
            if script.on_no_match == "offline":
                return answer(body)
            raise UpstreamError(
                f"script {self.path.name} has no entry for this request (step={facts.step}, "
                f"tool_messages={facts.tool_messages}, task={str(facts.data.get('task', ''))[:80]!r})",
                status_code=422,
                error_type="script_no_match",
            )
        respond = entry.respond
        if respond.delay_ms:
            await asyncio.sleep(respond.delay_ms / 1000)
        if respond.status is not None:
            error = respond.error or {}
            raise UpstreamError(
                str(error.get("message") or f"scripted error {respond.status}"),
                status_code=respond.status,
                retry_after=respond.retry_after,
                error_type=str(error.get("type") or "scripted_error"),
                code=error.get("code") if isinstance(error.get("code"), str) else None,
            )
        content = json.dumps(respond.json_) if respond.json_ is not None else respond.content
        calls = tuple(
            ToolCall(
                id=call.id or f"call_{index + 1}",
                name=call.name,
                arguments=call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments),
            )
            for index, call in enumerate(respond.tool_calls)
        )
        if respond.usage is not None:
            usage = Usage(
                prompt_tokens=respond.usage.get("prompt_tokens", 0),
                completion_tokens=respond.usage.get("completion_tokens", 0),
            )
        else:
            usage = Usage(
                prompt_tokens=estimate_tokens(body.get("messages") or []),
                completion_tokens=estimate_tokens(content or "") + sum(estimate_tokens(c.arguments) for c in calls),
                estimated=True,
            )
        return LocalAnswer(
            model=script.model,
            fingerprint="toolmesh-scripted",
            content=content,
            tool_calls=calls,
            usage=usage,
        )
