"""A service's server spans: FastAPI's own, one per request, continuing the caller's trace, without the query."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tools.service_kit import health
from tools.service_kit.telemetry import _QueryLeftOut, server_telemetry

CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


@pytest.fixture
def exported() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def client(exported: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    provider = TracerProvider()
    provider.add_span_processor(_QueryLeftOut())
    provider.add_span_processor(SimpleSpanProcessor(exported))
    app = FastAPI(telemetry={**server_telemetry(), "tracer_provider": provider})
    app.include_router(health.router)

    @app.get("/items/{item_id}")
    def item(item_id: str, q: str = "") -> dict[str, str]:
        return {"id": item_id, "q": q}

    @app.get("/broken")
    def broken() -> None:
        raise RuntimeError("no")

    with TestClient(app, raise_server_exceptions=False) as running:
        yield running


def test_one_server_span_per_request_continues_the_callers_trace(
    client: TestClient, exported: InMemorySpanExporter
) -> None:
    response = client.get("/items/7", params={"q": "secret argument text"}, headers={"traceparent": TRACEPARENT})
    assert response.status_code == 200

    spans = exported.get_finished_spans()
    assert [s.name for s in spans] == ["GET /items/{item_id}"], "no spans for dependencies, endpoint or serialization"
    span = spans[0]
    assert span.kind == SpanKind.SERVER
    assert format(span.context.trace_id, "032x") == CALLER_TRACE
    assert span.parent is not None and format(span.parent.span_id, "016x") == CALLER_SPAN
    attributes = dict(span.attributes or {})
    assert attributes["http.route"] == "/items/{item_id}"
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.path"] == "/items/7"
    assert not any("secret" in str(value) for value in attributes.values()), attributes


def test_health_checks_make_no_span(client: TestClient, exported: InMemorySpanExporter) -> None:
    assert client.get("/healthz").status_code == 200
    assert exported.get_finished_spans() == ()


def test_a_failed_request_is_a_failed_span(client: TestClient, exported: InMemorySpanExporter) -> None:
    assert client.get("/broken").status_code == 500
    (span,) = exported.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "RuntimeError"


def test_without_an_exporter_fastapi_records_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("APPLICATIONINSIGHTS_CONNECTION_STRING", raising=False)
    assert server_telemetry()["tracing"] is False
