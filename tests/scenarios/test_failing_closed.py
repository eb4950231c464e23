"""Failures inside a run end as messages to the model or as a report, never as a bare failed run.

A mesh on the local host whose gateway serves scripted conversations and a fake OpenAI-compatible
upstream answering in the odd shapes real servers use, plus a tool with a header argument.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.local_mesh import Mesh, start_mesh
from tests.support.servers import RunningServer, start_uvicorn

SCRIPTS: dict[str, list[dict[str, Any]]] = {
    "header": [
        {
            "match": {"step": "execute_task", "tool_messages": 0},
            "respond": {"tool_calls": [{"name": "echoNote", "arguments": {"X-Note": "before\u0001after"}}]},
        },
        {
            "match": {"step": "execute_task", "tool_messages": 1},
            "respond": {"tool_calls": [{"name": "echoNote", "arguments": {"X-Note": "before after"}}]},
        },
        {"match": {"step": "execute_task", "tool_messages": 2}, "respond": {"content": "noted"}},
    ],
    "refused": [
        {
            "match": {"step": "create_tasks"},
            "respond": {"status": 400, "error": {"message": "this model refuses to plan", "type": "bad_request"}},
        }
    ],
}
# Aliases served by the fake upstream: the model string carries the fake's directives.
UPSTREAM = {
    "odd-shapes": "fake?tools=first&args=object&content=parts",
    "malformed-choices": "fake?malformed=choices",
    "malformed-message": "fake?malformed=message",
    "malformed-content": "fake?malformed=content",
    "malformed-json": "fake?malformed=json",
}
TRACEBACK = re.compile(r"Traceback|\.py\b")


def _gateway_config(root: Path, upstream: RunningServer) -> Path:
    models: dict[str, Any] = {"default": {"deployments": [{"provider": "offline"}]}}
    for alias, entries in SCRIPTS.items():
        script = root / f"{alias}.yaml"
        script.write_text(yaml.safe_dump({"model": f"scripted-{alias}", "on_no_match": "offline", "entries": entries}))
        models[alias] = {"deployments": [{"provider": "scripted", "script": script.name}]}
    for alias, model in UPSTREAM.items():
        deployment = {"provider": "openai", "base_url": f"{upstream.url}/v1", "model": model, "api_key": "sk-fake"}
        models[alias] = {"deployments": [deployment]}
    config = root / "gateway.yaml"
    retry = {"max_retries": 0, "initial_backoff": 0.01, "max_backoff": 0.05, "total_timeout": 10}
    config.write_text(yaml.safe_dump({"models": models, "retry": retry}))
    return config


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("failing-closed")
    servers = [
        start_uvicorn("tests.support.fake_openai:app", log_path=root / "logs" / "upstream.log"),
        start_uvicorn("tests.scenarios.header_service:app", log_path=root / "logs" / "headers.log"),
    ]
    upstream, headers = servers
    try:
        registry = yaml.safe_load((Path(__file__).parents[2] / "specs" / "registry.yaml").read_text())
        registry["tools"]["headers"] = {
            "spec": f"{headers.url}/openapi.json",
            "base_url": headers.url,
            "approval": "never",
        }
        registry_path = root / "registry.yaml"
        registry_path.write_text(yaml.safe_dump(registry))
        running = start_mesh(
            root,
            gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(_gateway_config(root, upstream))},
            registry=registry_path,
            # The odd answer shapes below are whole JSON answers (the fake upstream shapes no
            # stream that way), so the model steps here ask for whole answers.
            host_env={"TOOLMESH_LLM_MAX_RETRIES": "0", "TOOLMESH_STREAM_MODEL_STEPS": "false"},
        )
    except BaseException:
        for server in servers:
            server.stop()
        raise
    running.extra.extend(servers)
    try:
        yield running
    finally:
        running.stop()


def _calls(view: dict[str, Any]) -> list[dict[str, Any]]:
    return list(view["progress"]["tool_calls"])


def _assert_no_traceback(view: dict[str, Any]) -> None:
    text = json.dumps(view)
    assert not TRACEBACK.search(text), text


def test_a_control_character_in_a_header_argument_goes_back_to_the_model(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {"objective": "Leave a note", "initial_tasks": ["Echo a note"], "tools": ["headers"], "model": "header"}
    )
    view = mesh.wait(run_id)
    assert view["status"] == "Completed", view
    assert view["output"]["outcome"] == "completed", view["output"]
    calls = _calls(view)
    assert [c["ok"] for c in calls] == [False, True], calls
    assert "printable ASCII" in calls[0]["summary"], calls[0]
    assert calls[0]["status"] is None  # refused before anything was sent
    assert "before after" in calls[1]["summary"]
    assert view["output"]["tasks"][0]["result"] == "noted"


def test_an_activity_failure_ends_the_run_with_a_report(mesh: Mesh) -> None:
    registry = Path(mesh.host_env["TOOLMESH_REGISTRY"])
    kept = registry.read_text()
    registry.write_text("tools: [this is not a mapping\n")
    try:
        run_id = mesh.start_run({"objective": "Anything", "initial_tasks": ["Add 1 and 1"]})
        view = mesh.wait(run_id)
    finally:
        registry.write_text(kept)
    assert view["status"] == "Completed", view  # a report, not a bare failed orchestration
    report = view["output"]
    assert report["outcome"] == "failed", report
    assert report["stop_reason"].startswith("failed: ") and "invalid YAML" in report["stop_reason"], report
    _assert_no_traceback(view)
    assert mesh.host is not None and "Traceback" in mesh.host.log()  # kept where operators look


def test_a_failed_model_step_is_reported_without_a_traceback(mesh: Mesh) -> None:
    run_id = mesh.start_run({"objective": "Plan something", "model": "refused"})
    view = mesh.wait(run_id)
    report = view["output"]
    assert view["status"] == "Completed" and report["outcome"] == "failed", view
    assert report["stop_reason"].startswith("model step failed: create_tasks"), report
    assert "this model refuses to plan" in report["stop_reason"]
    _assert_no_traceback(view)


def test_arguments_as_an_object_and_content_as_parts_are_normalised(mesh: Mesh) -> None:
    run_id = mesh.start_run(
        {"objective": "Leave a note", "initial_tasks": ["Echo a note"], "tools": ["headers"], "model": "odd-shapes"}
    )
    view = mesh.wait(run_id)
    report = view["output"]
    assert report["outcome"] == "completed", report
    calls = _calls(view)
    assert [(c["function"], c["ok"]) for c in calls] == [("echoNote", True)], calls
    assert "fake X-Note" in calls[0]["summary"]  # the arguments object reached the tool
    # The parts were joined into the task's text result.
    assert report["tasks"][0]["result"].startswith("fake reply #"), report["tasks"]


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        ("malformed-choices", "not a chat completion"),
        ("malformed-message", "not a chat completion"),
        ("malformed-content", "not a chat completion"),
        ("malformed-json", "the gateway answered 502"),
    ],
)
def test_a_malformed_answer_is_a_failed_step_with_a_report(mesh: Mesh, model: str, reason: str) -> None:
    run_id = mesh.start_run({"objective": "Plan", "initial_tasks": ["Think"], "model": model})
    view = mesh.wait(run_id)
    report = view["output"]
    assert view["status"] == "Completed" and report["outcome"] == "failed", view
    assert report["stop_reason"].startswith("model step failed: execute_task"), report
    assert reason in report["stop_reason"], report
    assert [t["task"] for t in report["pending"]] == ["Think"]
    _assert_no_traceback(view)
