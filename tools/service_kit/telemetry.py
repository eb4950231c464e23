"""OpenTelemetry for a tool service: its requests continue the trace of the run that made them.

Exporters follow the standard variables: OTLP over HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, Azure Monitor when
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set, none otherwise; ``OTEL_SDK_DISABLED=true``
turns tracing off. Server spans carry the route template and never the query string, where
arguments travel.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import Span

__all__ = ["configure_telemetry", "instrument_app"]

_configured = False


def _enabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"


def _entra_credential() -> Any:
    """The managed identity ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` names (``ClientId=...;Authorization=AAD``),
    for an Application Insights that takes Entra ID-authenticated ingestion only; None without it."""
    setting = os.environ.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "")
    parts = dict(part.split("=", 1) for part in setting.split(";") if "=" in part)
    if parts.get("Authorization", "").upper() != "AAD":
        return None
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=parts.get("ClientId") or None)


def _exporters() -> list[SpanExporter]:
    exporters: list[SpanExporter] = []
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporters.append(OTLPSpanExporter())
    connection = os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING")
    if connection:
        from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter

        exporters.append(AzureMonitorTraceExporter(connection_string=connection, credential=_entra_credential()))
    return exporters


def configure_telemetry(service: str) -> None:
    """The process's tracer provider and log correlation, once (the first service to ask names it)."""
    global _configured
    if _configured or not _enabled():
        return
    _configured = True
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource)
    for exporter in _exporters():
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.logging import LoggingInstrumentor

    LoggingInstrumentor().instrument(set_logging_format=False)


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
    if not _enabled():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, server_request_hook=_drop_query, excluded_urls="healthz", exclude_spans=["receive", "send"]
    )
