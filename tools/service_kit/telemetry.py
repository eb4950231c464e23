"""OpenTelemetry for a tool service (and the gateway): its requests continue the trace of the run that made them.

The tracer provider and its exporters come from ``exporters`` (the standard variables decide).
Server spans carry the route template and never the query string, where arguments travel.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span
from starlette.types import ASGIApp, Receive, Scope, Send

from .exporters import exporting, log_correlation, tracer_provider, tracing_enabled

__all__ = ["configure_telemetry", "instrument_app"]

_configured = False


def configure_telemetry(service: str) -> None:
    """The process's tracer provider and log correlation, once (the first service to ask names it)."""
    global _configured
    if _configured or not tracing_enabled():
        return
    _configured = True
    trace.set_tracer_provider(tracer_provider(service))
    log_correlation()


def _drop_query(span: Span, scope: dict[str, Any]) -> None:
    """Keep query strings (the model's arguments) out of the server span."""
    attributes = getattr(span, "attributes", None)
    if not scope.get("query_string") or not span.is_recording() or attributes is None:
        return
    for key in ("http.url", "url.full"):
        if key in attributes:
            span.set_attribute(key, str(attributes[key]).split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


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
    """Server spans for ``app`` that continue the caller's W3C trace context (health checks left out).

    Without an exporter, only the caller's context is continued (``_CallerContext``).
    """
    configure_telemetry(service)
    if not tracing_enabled():
        return
    if not exporting():
        app.add_middleware(_CallerContext)
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, server_request_hook=_drop_query, excluded_urls="healthz", exclude_spans=["receive", "send"]
    )
