"""The run a call is made for travels as a header the engine sets, which no model argument can set."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from openapi_engine import RUN_ID_HEADER, convert_document, invoke
from tests.support.servers import RunningServer


def _spec(method: str, operation: dict[str, Any]) -> dict[str, Any]:
    """A document with one operation, ``method /things``."""
    operation = {**operation, "responses": {"200": {"description": "ok"}}}
    return {"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/things": {method: operation}}}


SPEC = _spec(
    "get",
    {
        "operationId": "listThings",
        "parameters": [
            {"name": RUN_ID_HEADER, "in": "header", "schema": {"type": "string"}},
            {"name": "x-toolmesh-run-id", "in": "query", "schema": {"type": "string"}},
            {"name": "X-Trace", "in": "header", "schema": {"type": "string"}},
        ],
    },
)


async def test_the_run_id_header_is_the_callers_and_never_a_model_argument(
    echo_server: RunningServer, client: aiohttp.ClientSession
) -> None:
    (function,) = convert_document(SPEC, "things.json").functions
    visible = json.dumps(function.openai_tool())
    assert RUN_ID_HEADER not in visible  # a spec cannot offer the header to the model
    assert "x-toolmesh-run-id" in function.parameters["properties"]  # (a query parameter of that name is fine)
    arguments = {"X-Trace": "t1", "x-toolmesh-run-id": "q"}
    result = await invoke(function, arguments, base_url=echo_server.url, client=client, settings={}, run_id="run-7")
    assert result.ok, result
    echoed = json.loads(result.body)
    assert echoed["headers"]["x-toolmesh-run-id"] == "run-7"
    assert echoed["headers"]["x-trace"] == "t1"
    unscoped = await invoke(function, arguments, base_url=echo_server.url, client=client, settings={})
    assert "x-toolmesh-run-id" not in json.loads(unscoped.body)["headers"]


async def test_the_idempotency_key_is_the_runs_and_never_a_model_argument(
    echo_server: RunningServer, client: aiohttp.ClientSession
) -> None:
    """A spec that declares the key (as FastAPI services with replay do) does not offer it to the model."""
    spec = _spec(
        "post",
        {
            "operationId": "makeThing",
            "parameters": [{"name": "idempotency-key", "in": "header", "schema": {"type": "string"}}],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
        },
    )
    (function,) = convert_document(spec, "things.json").functions
    assert "idempotency" not in json.dumps(function.openai_tool()).lower()
    result = await invoke(function, {"body": {}}, base_url=echo_server.url, client=client, settings={},
                          idempotency_key="run7-c1-0-0")  # fmt: skip
    assert result.ok, result
    sent = [value for name, value in json.loads(result.body)["header_lines"] if name == "idempotency-key"]
    assert sent == ["run7-c1-0-0"]
