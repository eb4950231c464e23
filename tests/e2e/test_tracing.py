"""A run is one trace across the host, the gateway and the tools, exported over OTLP to a receiver here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.local_mesh import Mesh, start_mesh
from tests.support.otlp_receiver import OtlpReceiver, ReceivedSpan, start_otlp_receiver

OBJECTIVE = (
    "Calculate 12 * 49.90 for the licence budget. "
    "Write a note with the licence budget result. "
    "File an issue to order the 12 licences."
)
HOST = "toolmesh-orchestrator"
TOOL_SERVICES = {"calc", "notes", "issues", "mailbox"}
SERVER = 2  # SpanKind.SERVER in OTLP


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    running = start_otlp_receiver()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def traced_mesh(tmp_path: Path, receiver: OtlpReceiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mesh]:
    # Every service reads the standard variables; a short batch delay keeps the test quick.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    monkeypatch.delenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", raising=False)
    running = start_mesh(tmp_path)
    try:
        yield running
    finally:
        running.stop()


def _run_spans(receiver: OtlpReceiver, trace_id: str, mesh: Mesh) -> list[ReceivedSpan]:
    """The run's spans, once its root has arrived (the host exports it before the run can finish)."""

    def has_root(spans: list[ReceivedSpan]) -> bool:
        return any(s.trace_id == trace_id and s.name.startswith("invoke_agent") for s in spans)

    try:
        receiver.wait_for(has_root)
    except AssertionError as exc:
        by_service = Counter((s.service, s.name.split(" ")[0]) for s in receiver.snapshot() if s.trace_id == trace_id)
        log = mesh.host.log()[-6000:] if mesh.host else ""
        raise AssertionError(f"{exc}; the run's spans by service: {dict(by_service)}\nhost log:\n{log}") from None
    return [s for s in receiver.snapshot() if s.trace_id == trace_id]


def _strings(span: ReceivedSpan) -> list[str]:
    values = [span.name]
    for value in span.attributes.values():
        values.extend(str(v) for v in value) if isinstance(value, list) else values.append(str(value))
    return values


def test_a_run_is_one_trace_through_host_gateway_and_tools(traced_mesh: Mesh, receiver: OtlpReceiver) -> None:
    run_id = traced_mesh.start_run({"objective": OBJECTIVE})
    view = traced_mesh.wait(run_id)
    assert view["status"] == "Completed", view
    report = view["output"]
    trace_id = view["trace_id"]
    assert report["trace_id"] == trace_id and len(trace_id) == 32

    spans = _run_spans(receiver, trace_id, traced_mesh)
    by_id = {s.span_id: s for s in spans}
    services = {s.service for s in spans}
    assert HOST in services and "llm-gateway" in services, services
    assert len(services & TOOL_SERVICES) >= 2, services

    # One root; every other span's parent is a span of the same trace.
    roots = [s for s in spans if not s.parent_span_id]
    assert [r.name for r in roots] == ["invoke_agent toolmesh"], roots
    root = roots[0]
    orphans = [s for s in spans if s.parent_span_id and s.parent_span_id not in by_id]
    assert not orphans, orphans
    # Host spans hang off the run; a service's server span off a host span (the step's own span sends the context).
    for span in spans:
        if span.service == HOST and span.name.split(" ")[0] in ("chat", "execute_tool"):
            assert span.parent_span_id == root.span_id, span
    for span in spans:
        if span.service != HOST and span.kind == SERVER:
            chain = by_id[span.parent_span_id]
            while chain.service != HOST or chain.name.split(" ")[0] not in ("chat", "execute_tool"):
                assert chain.parent_span_id, (span, chain)
                chain = by_id[chain.parent_span_id]
    assert {s.service for s in spans if s.kind == SERVER} >= {"llm-gateway"} | (services & TOOL_SERVICES)

    # GenAI conventions on the run's spans.
    chats = [s for s in spans if s.service == HOST and s.name.startswith("chat ")]
    tools = [s for s in spans if s.service == HOST and s.name.startswith("execute_tool ")]
    assert len(chats) == report["usage"]["llm_calls"], (len(chats), report["usage"])
    for chat in chats:
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.request.model"] == "default"
        assert chat.attributes["gen_ai.conversation.id"] == run_id
        assert chat.attributes["gen_ai.usage.input_tokens"] > 0
        assert "gen_ai.usage.output_tokens" in chat.attributes
    called = {c["function"] for t in report["tasks"] for c in t["tool_calls"]}
    assert called <= {t.attributes["gen_ai.tool.name"] for t in tools}
    for tool in tools:
        assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
        assert tool.attributes["gen_ai.tool.call.id"]
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.usage.input_tokens"] == report["usage"]["prompt_tokens"]

    # No secret, prompt, result or argument text anywhere in what was exported.
    texts = [text for span in receiver.snapshot() for text in _strings(span)]
    forbidden = [
        *traced_mesh.keys.values(),
        "Calculate 12",
        "49.90",
        "598.8",
        "licence budget",
        *(t["task"] for t in report["tasks"]),
        "Bearer",
    ]
    leaks = {word: text for word in forbidden for text in texts if word in text}
    assert not leaks, leaks


def test_a_killed_host_reports_each_span_once(traced_mesh: Mesh, receiver: OtlpReceiver) -> None:
    objective = " ".join(f"Write a note about topic number {i}." for i in range(1, 6))
    run_id = traced_mesh.start_run({"objective": objective, "budgets": {"max_iterations": 8}})
    traced_mesh.wait(run_id, until=lambda v: len((v.get("progress") or {}).get("done") or []) >= 2, timeout=90)
    assert traced_mesh.host is not None
    traced_mesh.host.kill()
    traced_mesh.start_host()
    view = traced_mesh.wait(run_id, timeout=120)
    assert view["status"] == "Completed", view
    spans = _run_spans(receiver, view["trace_id"], traced_mesh)
    ids = Counter(s.span_id for s in spans)
    assert not [i for i, n in ids.items() if n > 1], "a span was reported twice"
    host = [s for s in spans if s.service == HOST]
    calls = Counter(
        s.attributes["gen_ai.tool.call.id"]
        for s in host
        if s.name.startswith("execute_tool ") and s.attributes["gen_ai.tool.call.id"] != "recall"
    )
    assert calls and set(calls.values()) == {1}, calls
    roots = [s for s in spans if not s.parent_span_id]
    assert len(roots) == 1
    run_spans = [s for s in host if s.name.split(" ")[0] in ("chat", "execute_tool")]
    assert run_spans and all(s.parent_span_id == roots[0].span_id for s in run_spans), run_spans
    # The replayed orchestration emitted nothing: every model step's span is there once, none more.
    chats = [s for s in host if s.name.startswith("chat ")]
    assert 0 < len(chats) <= view["output"]["usage"]["llm_calls"]
