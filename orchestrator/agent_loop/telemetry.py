"""OpenTelemetry for the Functions app: one tracer provider (see ``exporters``) and aiohttp client spans.

Span ids of the run's own spans are derived from the run (see ``run_trace``): an activity that
runs again after a crash reports the same span again, never a second one.
"""

from __future__ import annotations

from contextvars import ContextVar

import aiohttp
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from yarl import URL

from .exporters import log_correlation, span_exporters, tracer_provider, tracing_enabled

__all__ = [
    "SERVICE",
    "configure_telemetry",
    "export_now",
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


def _without_query(url: URL) -> str:
    # Query strings carry the model's arguments (and signed callback URLs their signature).
    return str(url.with_query(None))


def http_trace_configs() -> list[aiohttp.TraceConfig]:
    """Client spans for an aiohttp session, which also send W3C trace context with each request."""
    if not tracing_enabled():
        return []
    from opentelemetry.instrumentation.aiohttp_client import create_trace_config

    return [create_trace_config(url_filter=_without_query)]
