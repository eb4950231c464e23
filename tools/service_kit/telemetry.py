"""OpenTelemetry for a tool service (and the gateway): its requests continue the trace of the run that made them.

The tracer provider and its exporters come from ``exporters`` (the standard variables decide).
Server spans are FastAPI's own (``server_telemetry``): they carry the route template and never
the query string, where arguments travel.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig
from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Span, SpanProcessor
from opentelemetry.semconv.attributes.url_attributes import URL_QUERY
from starlette.types import ASGIApp, Receive, Scope, Send

from .exporters import exporting, log_correlation, tracer_provider, tracing_enabled

__all__ = ["configure_telemetry", "instrument_app", "server_telemetry"]

_configured = False
_UNTRACED_PATHS = frozenset({"/healthz"})


class _QueryLeftOut(SpanProcessor):
    """Blank a server span's query string (``url.query``) as it starts: the model's arguments travel there."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if span.attributes and URL_QUERY in span.attributes:
            span.set_attribute(URL_QUERY, "")


def configure_telemetry(service: str) -> None:
    """The process's tracer provider and log correlation, once (the first service to ask names it)."""
    global _configured
    if _configured or not tracing_enabled():
        return
    _configured = True
    provider = tracer_provider(service)
    provider.add_span_processor(_QueryLeftOut())
    trace.set_tracer_provider(provider)
    log_correlation()


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    return scope.get("path") in _UNTRACED_PATHS


def server_telemetry() -> TelemetryConfig:
    """FastAPI's own OpenTelemetry settings for a service app (``FastAPI(telemetry=...)``).

    With an exporter: one server span per request (health checks left out) that continues the
    caller's W3C trace context, with the stable HTTP attributes and the route template. Nothing
    more: no spans for dependencies, endpoint and serialization (they would triple a run's spans),
    no request metrics and no log records of its own (logs go where each service sends them).
    Without an exporter FastAPI records nothing; ``instrument_app`` continues the caller's context.
    """
    if not exporting():
        return {"tracing": False, "metrics": False, "logs": False}
    return {"tracing": True, "operation_spans": False, "metrics": False, "logs": False, "exclude": _untraced}


class _CallerContext:
    """Continue the caller's W3C trace context for a request, without a span of its own.

    With no exporter a server span would be made and dropped on every request; this keeps what
    still matters then (log lines carry the run's trace id, and the caller's span id) for the
    cost of reading one header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope.get("headers") or ()
            if name in _CONTEXT_HEADERS
        }
        if not carrier:
            await self.app(scope, receive, send)
            return
        token = context.attach(propagate.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            context.detach(token)


_CONTEXT_HEADERS = (b"traceparent", b"tracestate")


def instrument_app(app: FastAPI, service: str) -> None:
    """Install the tracer provider for ``app``'s process; without an exporter, continue callers' context.

    The server spans themselves come from FastAPI, as ``server_telemetry`` configured the app.
    """
    configure_telemetry(service)
    if tracing_enabled() and not exporting():
        app.add_middleware(_CallerContext)
