"""The tracer provider a toolmesh process installs, its exporters chosen by the standard variables.

OTLP over HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is
set, Azure Monitor when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set (with the managed identity
``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` names, where ingestion takes Entra ID only), none
otherwise. With no exporter no span is recorded: spans still get ids, so trace context travels to
the next service and log lines carry trace and span ids, but nothing is kept, timed or queued, and
tracing costs next to nothing. ``OTEL_SDK_DISABLED=true`` turns tracing off altogether.

The Functions app (``orchestrator/``) and each service image deploy on their own, so this module
is kept in two identical copies, ``orchestrator/agent_loop/exporters.py`` and
``tools/service_kit/exporters.py``; a test fails when they differ.
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

__all__ = ["exporting", "log_correlation", "span_exporters", "tracer_provider", "tracing_enabled"]

_OTLP = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_AZURE_MONITOR = "APPLICATIONINSIGHTS_CONNECTION_STRING"


def tracing_enabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"


def exporting() -> bool:
    """Whether the environment names an exporter: spans are recorded only then."""
    return tracing_enabled() and any(os.environ.get(name) for name in (*_OTLP, _AZURE_MONITOR))


def _entra_credential() -> Any:
    """The managed identity ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` names (``ClientId=...;Authorization=AAD``),
    for an Application Insights that takes Entra ID-authenticated ingestion only; None without it."""
    setting = os.environ.get("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "")
    parts = dict(part.split("=", 1) for part in setting.split(";") if "=" in part)
    if parts.get("Authorization", "").upper() != "AAD":
        return None
    from azure.identity import ManagedIdentityCredential

    return ManagedIdentityCredential(client_id=parts.get("ClientId") or None)


def span_exporters() -> list[SpanExporter]:
    """The exporters the environment asks for (none by default)."""
    exporters: list[SpanExporter] = []
    if any(os.environ.get(name) for name in _OTLP):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporters.append(OTLPSpanExporter())
    connection = os.environ.get(_AZURE_MONITOR)
    if connection:
        from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter

        exporters.append(AzureMonitorTraceExporter(connection_string=connection, credential=_entra_credential()))
    return exporters


def tracer_provider(service: str, id_generator: IdGenerator | None = None) -> TracerProvider:
    """A provider for ``service`` (``OTEL_SERVICE_NAME`` wins) that batches spans to each exporter.

    Without an exporter it samples nothing, whatever the caller's trace flags say: its spans are
    non-recording. With one, ``OTEL_TRACES_SAMPLER`` applies (parent-based, always on by default).
    """
    exporters = span_exporters()
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service}),
        id_generator=id_generator,
        sampler=None if exporters else ALWAYS_OFF,
    )
    for exporter in exporters:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def log_correlation() -> None:
    """Put the current trace and span ids on every log record (``otelTraceID``, ``otelSpanID``).

    Formats are left alone: each service's formatter writes them (JSON fields, or the host's line).
    The instrumentation's other job, a handler that turns each record into an OpenTelemetry log
    record, stays off: logs go where each service sends them.
    """
    from opentelemetry.instrumentation.logging import LoggingInstrumentor

    LoggingInstrumentor().instrument(inject_trace_context=True, enable_log_auto_instrumentation=False)
