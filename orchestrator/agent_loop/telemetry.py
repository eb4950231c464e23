"""OpenTelemetry for the Functions app: one tracer provider (see ``exporters``) and trace context on requests.

Span ids of the run's own spans are derived from the run (see ``run_trace``): an activity that
runs again after a crash reports the same span again, never a second one.
"""

from __future__ import annotations

import asyncio
import weakref
from contextvars import ContextVar

import aiohttp
from opentelemetry import trace
from opentelemetry.propagate import inject
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator

from .exporters import log_correlation, span_exporters, tracer_provider, tracing_enabled

__all__ = [
    "SERVICE",
    "configure_telemetry",
    "export_now",
    "export_shared",
    "forced_ids",
    "http_trace_configs",
    "span_exporters",
    "tracing_enabled",
]

SERVICE = "toolmesh-orchestrator"

forced_ids: ContextVar[tuple[int, int] | None] = ContextVar("toolmesh_forced_span_ids", default=None)
"""(trace id, span id) the next span must take; set only around the start of a run's own span."""

_configured = False


class _RunIds(RandomIdGenerator):
    """Random ids, except for a span whose ids the run decided (``forced_ids``)."""

    def generate_span_id(self) -> int:
        forced = forced_ids.get()
        return forced[1] if forced else super().generate_span_id()

    def generate_trace_id(self) -> int:
        forced = forced_ids.get()
        return forced[0] if forced else super().generate_trace_id()


def configure_telemetry(service: str = SERVICE) -> None:
    """Install the tracer provider and the log correlation once per process (idempotent)."""
    global _configured
    if _configured or not tracing_enabled():
        return
    _configured = True
    trace.set_tracer_provider(tracer_provider(service, id_generator=_RunIds()))
    log_correlation()


def export_now() -> bool:
    """Export the spans waiting in the batch processors now; False when they did not finish in time.

    Batching holds spans for a while before they leave the process; one still held when the
    process dies is gone. A caller that records a fact durably right after a span (an activity
    whose result history keeps) exports first, so a crash in between runs it again instead.
    """
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        return True  # tracing is off: nothing is held
    return provider.force_flush()


class _SharedExport:
    """One export at a time in an event loop; callers that ask while one runs share the next.

    A run's closing activity must see its root span leave the process before it returns. When
    many runs end together, an export each would cost an HTTP request each; a caller here waits
    for the first export that starts after it asked (its spans are queued by then), and that one
    export carries every waiting caller's spans. The export runs in a thread, so the event loop
    keeps serving other activities meanwhile.
    """

    def __init__(self) -> None:
        self._waiting: asyncio.Future[bool] | None = None
        self._runner: asyncio.Task[None] | None = None

    async def __call__(self) -> bool:
        waiting = self._waiting
        if waiting is None:
            waiting = self._waiting = asyncio.get_running_loop().create_future()
            if self._runner is None or self._runner.done():
                self._runner = asyncio.create_task(self._run())
        return await asyncio.shield(waiting)

    async def _run(self) -> None:
        while (waiting := self._waiting) is not None:
            self._waiting = None
            try:
                waiting.set_result(await asyncio.to_thread(export_now))
            except Exception as exc:  # the callers decide what a failed export means
                waiting.set_exception(exc)


_shared_exports: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _SharedExport] = weakref.WeakKeyDictionary()


async def export_shared() -> bool:
    """``export_now``, shared with every caller in this event loop that asks at the same time."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        return True  # tracing is off: nothing is held
    loop = asyncio.get_running_loop()
    shared = _shared_exports.get(loop)
    if shared is None:
        shared = _shared_exports[loop] = _SharedExport()
    return await shared()


async def _send_context(
    _session: aiohttp.ClientSession, _context: object, params: aiohttp.TraceRequestStartParams
) -> None:
    inject(params.headers)


def http_trace_configs() -> list[aiohttp.TraceConfig]:
    """Send the current span's W3C trace context with each request of an aiohttp session.

    The current span is the model step's or the tool call's own (``run_trace.span``), which
    already times the request, so no client span is made: the service's server span hangs
    directly off the step, and a run has a third fewer spans to record and export.
    """
    if not tracing_enabled():
        return []
    config = aiohttp.TraceConfig()
    config.on_request_start.append(_send_context)
    return [config]
