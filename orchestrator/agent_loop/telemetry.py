"""OpenTelemetry for the Functions app: one tracer provider, its exporters chosen by settings.

The standard variables decide: OTLP over HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set, Azure Monitor when
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set, no exporter otherwise. Without an exporter
spans are still made: their context travels to the gateway and the tools, and log records carry
trace and span ids. ``OTEL_SDK_DISABLED=true`` turns tracing off altogether.

Span ids of the run's own spans are derived from the run (see ``run_trace``): an activity that
runs again after a crash reports the same span again, never a second one.

The app deploys on its own (``orchestrator/`` is the app root), so the exporter choice here
mirrors ``tools/service_kit/telemetry.py`` (the gateway's and the tools') instead of importing it.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from typing import Any

import aiohttp
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from yarl import URL

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


def tracing_enabled() -> bool:
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


def span_exporters() -> list[SpanExporter]:
    """The exporters the environment asks for (none by default)."""
    exporters: list[SpanExporter] = []
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporters.append(OTLPSpanExporter())
    connection = os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING")
    if connection:
        from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter

        exporters.append(AzureMonitorTraceExporter(connection_string=connection, credential=_entra_credential()))
    return exporters


def configure_telemetry(service: str = SERVICE) -> None:
    """Install the tracer provider and the log correlation once per process (idempotent)."""
    global _configured
    if _configured or not tracing_enabled():
        return
    _configured = True
    name = os.environ.get("OTEL_SERVICE_NAME") or service
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}), id_generator=_RunIds())
    for exporter in span_exporters():
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    from opentelemetry.instrumentation.logging import LoggingInstrumentor

    LoggingInstrumentor().instrument(set_logging_format=False)


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
