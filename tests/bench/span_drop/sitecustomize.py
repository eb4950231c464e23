"""Loaded at start-up by every process of a benchmark mesh whose ``PYTHONPATH`` names this folder.

With ``TOOLMESH_BENCH_DROP_SPANS=1`` the official OTLP exporter drops each batch it is handed: spans
are still made, recorded and batched as with export on, but never encoded or sent. The agent-run
benchmark's ``--tracing-stages`` uses it to split what export costs across the mesh into recording
and sending. Nothing outside the benchmarks puts this folder on the path.
"""

from __future__ import annotations

import os

if os.environ.get("TOOLMESH_BENCH_DROP_SPANS") == "1":
    from collections.abc import Sequence

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExportResult

    def _drop(self: OTLPSpanExporter, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    OTLPSpanExporter.export = _drop  # type: ignore[method-assign]
