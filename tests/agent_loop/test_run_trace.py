"""The run's trace identity, the exporters the settings choose, and the timeline's metrics."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence

import pytest
from azure.identity import ManagedIdentityCredential
from azure.monitor.opentelemetry.exporter import AzureMonitorTraceExporter
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agent_loop import exporters, run_trace, telemetry
from agent_loop.timeline import entry, run_metrics

CONNECTION = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://127.0.0.1/"


def test_a_runs_trace_id_is_its_own_and_the_same_every_time() -> None:
    one, other = run_trace.trace_id_hex("run-1"), run_trace.trace_id_hex("run-2")
    assert one == run_trace.trace_id_hex("run-1") and one != other
    assert len(one) == 32 and int(one, 16) != 0


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "OTEL_SDK_DISABLED",
    ):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_no_exporter_by_default(clean_env: pytest.MonkeyPatch) -> None:
    assert telemetry.span_exporters() == []
    assert telemetry.tracing_enabled()
    clean_env.setenv("OTEL_SDK_DISABLED", "true")
    assert not telemetry.tracing_enabled()
    assert telemetry.http_trace_configs() == []


def test_the_standard_variables_choose_otlp_and_azure_monitor(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    clean_env.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", CONNECTION)
    clean_env.setenv("APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "ClientId=1234;Authorization=AAD")
    chosen = telemetry.span_exporters()
    assert [type(e) for e in chosen] == [OTLPSpanExporter, AzureMonitorTraceExporter]
    assert isinstance(exporters._entra_credential(), ManagedIdentityCredential)
    for exporter in chosen:
        exporter.shutdown()


def test_with_no_exporter_spans_are_not_recorded_but_their_context_travels(clean_env: pytest.MonkeyPatch) -> None:
    provider = exporters.tracer_provider("test", id_generator=telemetry._RunIds())
    tracer = provider.get_tracer("test")
    clean_env.setattr(run_trace, "_tracer", tracer)
    with tracer.start_as_current_span("parent") as parent, tracer.start_as_current_span("child") as child:
        assert not parent.is_recording() and not child.is_recording()
        # Ids are still made: the next service continues the trace and log lines carry them.
        assert child.get_span_context().is_valid
        assert child.get_span_context().trace_id == parent.get_span_context().trace_id
    # Even a caller that says "sampled" (the run's root) gets nothing recorded.
    with run_trace.span("chat default", run_id="run-1", key="1.1") as step:
        assert not step.is_recording()
        assert format(step.get_span_context().trace_id, "032x") == run_trace.trace_id_hex("run-1")
    provider.shutdown()

    clean_env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    provider = exporters.tracer_provider("test")
    span = provider.get_tracer("test").start_span("recorded")  # never ended: nothing to send at shutdown
    assert span.is_recording()
    provider.shutdown()


class _GatedExporter(InMemorySpanExporter):
    """Holds its first export until ``release`` is set; counts its exports."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.started = threading.Event()
        self.release = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.calls += 1
        self.started.set()
        self.release.wait(30)
        return super().export(spans)


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[_GatedExporter]:
    """A provider whose batch delay is far longer than a test: only an immediate export delivers a span."""
    exporter = _GatedExporter()
    provider = TracerProvider(id_generator=telemetry._RunIds())
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=600_000))
    monkeypatch.setattr(run_trace, "_tracer", provider.get_tracer("test"))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    try:
        yield exporter
    finally:
        exporter.release.set()
        provider.shutdown()


async def _end_run(run_id: str) -> None:
    await run_trace.run_span(
        run_id,
        started_at="2026-01-01T00:00:00+00:00",
        model="default",
        usage={},
        outcome="completed",
        stop_reason="objective_met",
    )


def _roots(exporter: InMemorySpanExporter) -> list[str]:
    return sorted(
        format(s.context.trace_id, "032x") for s in exporter.get_finished_spans() if s.name.startswith("invoke_agent")
    )


def test_the_runs_root_span_leaves_the_process_before_its_activity_returns(held: _GatedExporter) -> None:
    held.release.set()
    with run_trace.span("chat default", run_id="run-1", key="1.1"):
        pass
    assert held.get_finished_spans() == ()  # held by the batch processor
    asyncio.run(_end_run("run-1"))
    names = [s.name for s in held.get_finished_spans()]
    assert names == ["chat default", "invoke_agent toolmesh"]
    assert _roots(held) == [run_trace.trace_id_hex("run-1")]


def test_runs_that_end_together_share_one_export(held: _GatedExporter) -> None:
    held.release.set()
    runs = [f"run-{n}" for n in range(20)]

    async def end_all() -> None:
        await asyncio.gather(*(_end_run(run_id) for run_id in runs))

    asyncio.run(end_all())
    assert _roots(held) == sorted(run_trace.trace_id_hex(run_id) for run_id in runs)
    assert held.calls == 1


def test_a_run_ending_during_an_export_waits_for_the_next_one(held: _GatedExporter) -> None:
    async def scenario() -> None:
        first = asyncio.create_task(_end_run("run-a"))
        assert await asyncio.to_thread(held.started.wait, 30)  # run-a's root is on its way out
        second = asyncio.create_task(_end_run("run-b"))
        await asyncio.sleep(0.05)
        assert not second.done()
        held.release.set()
        await first
        await second
        # run-b's root left in an export that started after run-b asked, not in run-a's.
        assert run_trace.trace_id_hex("run-b") in _roots(held)

    asyncio.run(scenario())
    assert held.calls == 2


def test_metrics_split_the_run_without_counting_overlaps_twice() -> None:
    at = "2026-01-01T00:00:{:02d}+00:00".format
    timeline = [
        entry("model", "create_tasks", start=at(1), end=at(3)),
        entry("tool", "evaluateExpression", start=at(3), end=at(4), task_id=1, call_id="c1-0-0", attempts=3),
        entry("memory", "createNote", start=at(4), end=at(6), task_id=1, ok=False),
        entry("model", "create_tasks", start=at(5), end=at(7), task_id=1),
        entry("approval", "deleteNote", start=at(8), end=at(10), task_id=2, call_id="c2-0-0"),
    ]
    metrics = run_metrics(
        timeline,
        [("evaluateExpression", True), ("deleteNote", False), ("evaluateExpression", True)],
        started_at=at(0),
        finished_at=at(11),
    )
    assert metrics["model_steps"] == 2
    assert metrics["tool_calls"] == {"deleteNote": {"ok": 0, "failed": 1}, "evaluateExpression": {"ok": 2, "failed": 0}}
    assert metrics["retries"] == 2
    # model 1-3 and 5-7 (the memory write's 5-6 under it counts as model), tools 3-5, people 8-10.
    assert metrics["seconds"] == {
        "total": 11.0,
        "people": 2.0,
        "model": 4.0,
        "tools": 2.0,
        "orchestration": 3.0,
    }
