"""A run is one trace: its ids derive from the run id, and activities open its spans.

The orchestrator replays, so it emits nothing; every span of a run comes from an activity (a
model step, a tool call, the run's closing record). The trace id and the root span's id are
hashes of the run id, so any activity, on any worker, after any number of restarts, joins the
same trace without the orchestrator carrying context. Each activity's span id is a hash of the
run id and the call's place in the run (``span_key``, set by the orchestrator), so an activity
that runs again reports the same span rather than a second one.

Spans follow the OpenTelemetry GenAI conventions (``invoke_agent``, ``chat``, ``execute_tool``)
and carry no prompt, answer or argument text unless
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import AttributeValue

from .telemetry import export_shared, forced_ids

__all__ = [
    "AGENT_NAME",
    "PROVIDER_NAME",
    "capture_content",
    "run_span",
    "run_trace_id",
    "span",
    "trace_id_hex",
]

AGENT_NAME = "toolmesh"
PROVIDER_NAME = "toolmesh.llm_gateway"
"""The gateway stands between the run and the model providers, so it is the provider the run sees."""
ROOT_KEY = "run"

_tracer = trace.get_tracer("toolmesh.agent_loop")
log = logging.getLogger("toolmesh.tracing")


def _hash_id(text: str, size: int) -> int:
    value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:size], "big")
    return value or 1  # zero is the invalid id


def run_trace_id(run_id: str) -> int:
    return _hash_id(f"toolmesh-trace:{run_id}", 16)


def trace_id_hex(run_id: str) -> str:
    """The run's trace id as tracing backends show it (32 hex digits)."""
    return format(run_trace_id(run_id), "032x")


def _span_id(run_id: str, key: str) -> int:
    return _hash_id(f"toolmesh-span:{run_id}:{key}", 8)


def capture_content() -> bool:
    """Whether spans may carry prompts, answers and arguments (the GenAI instrumentations' switch)."""
    return os.environ.get("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "").strip().lower() == "true"


def _root_context(run_id: str) -> Any:
    root = SpanContext(
        trace_id=run_trace_id(run_id),
        span_id=_span_id(run_id, ROOT_KEY),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(NonRecordingSpan(root))


def _nanos(iso: str) -> int | None:
    try:
        return int(datetime.fromisoformat(iso).timestamp() * 1e9)
    except (TypeError, ValueError):
        return None


@contextmanager
def span(
    name: str,
    *,
    run_id: str,
    key: str | None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Span]:
    """A span of the run's trace, child of the run's root; its id comes from ``key`` when given.

    An exception marks the span failed (``error.type``) and goes on.
    """
    token = forced_ids.set((run_trace_id(run_id), _span_id(run_id, key)) if key else None)
    try:
        opened = _tracer.start_span(name, context=_root_context(run_id), kind=kind, attributes=attributes)
    finally:
        forced_ids.reset(token)
    with trace.use_span(opened, end_on_exit=True, record_exception=False, set_status_on_exception=False):
        try:
            yield opened
        except BaseException as exc:
            opened.set_attribute("error.type", type(exc).__name__)
            opened.set_status(Status(StatusCode.ERROR, str(exc)[:200]))
            raise


async def run_span(
    run_id: str, *, started_at: str, model: str, usage: Mapping[str, Any], outcome: str, stop_reason: str
) -> None:
    """Report the run's root span (``invoke_agent``), from its start until now, and export it at once.

    The root is the run's last span, reported by an activity whose result ends the run. Left in
    the batch processor, it would be lost to a crash after that result is kept (the activity does
    not run again); exported before the activity returns, a crash first means the activity runs
    again and reports the same span. Runs that end together share one export (``export_shared``).
    """
    token = forced_ids.set((run_trace_id(run_id), _span_id(run_id, ROOT_KEY)))
    try:
        root = _tracer.start_span(
            f"invoke_agent {AGENT_NAME}",
            context=trace.set_span_in_context(trace.INVALID_SPAN),
            kind=SpanKind.INTERNAL,
            attributes={
                gen_ai.GEN_AI_OPERATION_NAME: "invoke_agent",
                gen_ai.GEN_AI_AGENT_NAME: AGENT_NAME,
                gen_ai.GEN_AI_CONVERSATION_ID: run_id,
                gen_ai.GEN_AI_REQUEST_MODEL: model,
                gen_ai.GEN_AI_USAGE_INPUT_TOKENS: int(usage.get("prompt_tokens") or 0),
                gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: int(usage.get("completion_tokens") or 0),
                "toolmesh.cost_usd": float(usage.get("cost_usd") or 0.0),
                "toolmesh.run.outcome": outcome,
                "toolmesh.run.stop_reason": stop_reason[:200],
            },
            start_time=_nanos(started_at),
        )
    finally:
        forced_ids.reset(token)
    root.end()
    if not await export_shared():
        log.warning("the root span of run %s could not be exported", run_id)


def chat_attributes(run_id: str, step: str, model: str, messages: Any) -> dict[str, AttributeValue]:
    """A model step's request side (``chat`` span)."""
    attributes: dict[str, AttributeValue] = {
        gen_ai.GEN_AI_OPERATION_NAME: "chat",
        gen_ai.GEN_AI_PROVIDER_NAME: PROVIDER_NAME,
        gen_ai.GEN_AI_REQUEST_MODEL: model,
        gen_ai.GEN_AI_CONVERSATION_ID: run_id,
        gen_ai.GEN_AI_AGENT_NAME: AGENT_NAME,
        "toolmesh.step": step,
    }
    if capture_content():
        attributes[gen_ai.GEN_AI_INPUT_MESSAGES] = json.dumps(messages, ensure_ascii=False)
    return attributes


def record_answer(opened: Span, answer: Mapping[str, Any]) -> None:
    """A model step's response side: model, usage, finish reason, cost."""
    usage = answer.get("usage") or {}
    opened.set_attributes(
        {
            gen_ai.GEN_AI_RESPONSE_MODEL: str(answer.get("model") or ""),
            gen_ai.GEN_AI_USAGE_INPUT_TOKENS: int(usage.get("prompt_tokens") or 0),
            gen_ai.GEN_AI_USAGE_OUTPUT_TOKENS: int(usage.get("completion_tokens") or 0),
            gen_ai.GEN_AI_RESPONSE_FINISH_REASONS: [str(answer.get("finish_reason") or "")],
            "toolmesh.cost_usd": float(usage.get("cost_usd") or 0.0),
            "toolmesh.tool_calls": len(answer.get("tool_calls") or []),
        }
    )
    if capture_content():
        opened.set_attribute(gen_ai.GEN_AI_OUTPUT_MESSAGES, json.dumps(answer.get("content"), ensure_ascii=False))


def tool_attributes(run_id: str, function: str, tool: str, call_id: str, arguments: Any) -> dict[str, AttributeValue]:
    """A tool call's request side (``execute_tool`` span)."""
    attributes: dict[str, AttributeValue] = {
        gen_ai.GEN_AI_OPERATION_NAME: "execute_tool",
        gen_ai.GEN_AI_TOOL_NAME: function,
        gen_ai.GEN_AI_TOOL_CALL_ID: call_id,
        gen_ai.GEN_AI_TOOL_TYPE: "function",
        gen_ai.GEN_AI_CONVERSATION_ID: run_id,
        "toolmesh.tool": tool,
    }
    if capture_content():
        attributes[gen_ai.GEN_AI_TOOL_CALL_ARGUMENTS] = json.dumps(arguments, ensure_ascii=False)
    return attributes


def record_tool_result(opened: Span, *, ok: bool, status: int | None, attempts: int, error: str | None) -> None:
    opened.set_attributes({"toolmesh.tool.outcome": "ok" if ok else "error", "toolmesh.tool.attempts": attempts})
    if status is not None:
        opened.set_attribute("http.response.status_code", status)
    if not ok:
        opened.set_attribute("error.type", str(status) if status is not None else "tool_error")
        opened.set_status(Status(StatusCode.ERROR, (error or "")[:200]))
