"""The CLI's client asks only for what the run API's spec offers, and reads only what it describes.

Every client call goes through a transport that checks the request's method and path against
``specs/run_api.openapi.json``; every field the CLI's response models read must be a property of
the schema the spec gives that response.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from agent_loop.run_api_spec import SPEC_PATH
from toolmesh_cli import schemas
from toolmesh_cli.client import ApiClient
from toolmesh_cli.config import ApiTarget

SPEC: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
SCHEMAS: dict[str, Any] = SPEC["components"]["schemas"]
ANSWERS = {
    ("POST", "/api/runs"): {"id": "r1"},
    ("GET", "/api/runs"): [],
    ("GET", "/api/runs/{run_id}"): {"id": "r1", "status": "Running"},
    ("GET", "/api/tools"): {"tools": [], "problems": []},
    ("POST", "/api/tools/reload"): {"tools": [], "problems": []},
    ("GET", "/api/tools/{name}"): {"name": "notes"},
}


def _template_for(path: str) -> str | None:
    for template in SPEC["paths"]:
        pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return str(template)
    return None


def test_every_client_call_is_an_operation_of_the_spec() -> None:
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        template = _template_for(request.url.path)
        assert template is not None, f"{request.url.path} is not a path of the run API's spec"
        assert request.method.lower() in SPEC["paths"][template], f"{request.method} {template} is not in the spec"
        seen.append((request.method, template))
        if template.endswith("/events"):
            closing = b'id: 1\ndata: {"type":"RUN_FINISHED","threadId":"r1","runId":"r1"}\n\n'
            return httpx.Response(200, content=closing, headers={"content-type": "text/event-stream"})
        return httpx.Response(200 if request.method == "GET" else 202, json=ANSWERS.get((request.method, template), {}))

    with ApiClient(ApiTarget(url="http://api.test", key="k"), transport=httpx.MockTransport(handler)) as client:
        client.start_run({"objective": "x"})
        client.list_runs(status="Running", limit=5)
        client.get_run("r1")
        assert [event.type for event in client.run_events("r1")] == ["RUN_FINISHED"]
        client.approve("r1", "c1", approve=True, comment="ok")
        client.reply("r1", "c1", reply="yes", sender="ada")
        client.cancel("r1")
        client.say("r1", author="ada", text="hello")
        client.messages("r1", after=2, limit=10)
        client.abort_turn("r1", author="ada")
        client.tools()
        client.tool("notes")
        client.reload_tools()
    assert len(set(seen)) == 13


@pytest.mark.parametrize(
    ("model", "schema"),
    [
        (schemas.RunCreated, "RunLinks"),
        (schemas.RunSummary, "RunSummary"),
        (schemas.RunStatus, "RunStatusView"),
        (schemas.Progress, "ProgressView"),
        (schemas.TaskItem, "TaskView"),
        (schemas.ToolCallItem, "ToolCallView"),
        (schemas.Approval, "ApprovalView"),
        (schemas.Waiting, "WaitingView"),
        (schemas.Usage, "UsageView"),
        (schemas.Report, "Report"),
        (schemas.ReportTask, "ReportTask"),
        (schemas.ToolCatalog, "CatalogView"),
        (schemas.CatalogTool, "CatalogToolView"),
        (schemas.CatalogFunction, "CatalogFunctionView"),
        (schemas.Schedule, "ScheduleView"),
    ],
)
def test_the_cli_reads_only_fields_the_spec_describes(model: type[BaseModel], schema: str) -> None:
    derived = {"failure"} if model is schemas.RunStatus else set()  # the CLI's name for a failed run's output
    read = {field.alias or name for name, field in model.model_fields.items()} - derived
    described = set(SCHEMAS[schema]["properties"])
    assert read <= described, f"{model.__name__} reads {sorted(read - described)}, which {schema} does not describe"
