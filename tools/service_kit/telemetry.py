"""OpenTelemetry for a tool service (and the gateway): its requests continue the trace of the run that made them.

The tracer provider and its exporters come from ``exporters`` (the standard variables decide).
Server spans carry the route template and never the query string, where arguments travel.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.trace import Span

from .exporters import log_correlation, tracer_provider, tracing_enabled

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


def instrument_app(app: FastAPI, service: str) -> None:
    """Server spans for ``app`` that continue the caller's W3C trace context (health checks left out)."""
    configure_telemetry(service)
    if not tracing_enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, server_request_hook=_drop_query, excluded_urls="healthz", exclude_spans=["receive", "send"]
    )
