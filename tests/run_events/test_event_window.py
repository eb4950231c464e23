"""The event stream where the Functions host cannot stream a response (Azure without HTTP streams).

With ``TOOLMESH_EVENTS_HTTP_STREAMS=false`` the app registers ``GET``/``POST /api/runs/{id}/events``
as plain ``func.HttpRequest`` functions, the only kind Azure serves while HTTP streams are off for
the app. The local host then runs those functions as the Functions host would: each answer is a
whole response, the events of a bounded window and a ``retry:``. A client that reconnects with
``Last-Event-ID`` (the CLI here, a browser's EventSource in tests/console) gets every event once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli_process import CliProcess
from tests.support.local_mesh import Mesh, mesh_with_fake_upstream
from tests.support.servers import REPO_ROOT
from tests.support.sse_client import model_texts

MODELS = {"held": "held?chunks=8&hold_after=2", "slow": "slow?chunks=20&gap_ms=100"}
WINDOW_ENV = {"TOOLMESH_EVENTS_HTTP_STREAMS": "false", "TOOLMESH_EVENTS_WINDOW": "3"}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("events-window")
    with mesh_with_fake_upstream(root, MODELS, host_env=WINDOW_ENV) as running:
        yield running


def test_without_http_streams_no_function_of_the_app_needs_them() -> None:
    probe = (
        "import function_app\n"
        "from durable_host.discovery import takes_asgi_request\n"
        "routes = {}\n"
        "for f in function_app.app.get_functions():\n"
        "    trigger = next(b for b in f.get_bindings() if b.type.endswith('Trigger'))\n"
        "    if trigger.type == 'httpTrigger':\n"
        "        routes[f.get_function_name()] = takes_asgi_request(f.get_user_function(), trigger.name)\n"
        "from azurefunctions.extensions.base.web import HttpV2FeatureChecker\n"
        "routes['(the worker sees HTTP streams on)'] = HttpV2FeatureChecker.http_v2_enabled()\n"
        "print(json.dumps(routes))\n"
    )
    env = {**os.environ, **WINDOW_ENV, "PYTHONPATH": str(REPO_ROOT / "orchestrator")}
    found = subprocess.run([sys.executable, "-c", "import json\n" + probe], cwd=REPO_ROOT / "orchestrator",
                           env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert found.returncode == 0, found.stderr[-3000:]
    routes = json.loads(found.stdout.strip().splitlines()[-1])
    assert {"run_events_window", "run_events_agui_window"} <= set(routes)
    assert not any(routes.values()), f"functions that need HTTP streams: {[n for n, s in routes.items() if s]}"


def _answer(mesh: Mesh, run_id: str, last: int) -> tuple[httpx.Response, list[tuple[int, dict[str, object]]]]:
    headers = {"x-functions-key": mesh.keys["functions"], "Last-Event-ID": str(last)}
    response = httpx.get(f"{mesh.url}/api/runs/{run_id}/events", headers=headers, timeout=60)
    events, event_id = [], None
    for line in response.text.splitlines():
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: ") and event_id is not None:
            events.append((event_id, json.loads(line[6:])))
            event_id = None
    return response, events


def test_bounded_answers_bring_every_event_once_and_text_before_the_step_completes(mesh: Mesh) -> None:
    run_id = mesh.start_run({"objective": "Describe the sky", "initial_tasks": ["Describe the sky"], "tools": [],
                             "model": "held", "budgets": {"max_iterations": 2}})  # fmt: skip
    seen: list[tuple[int, dict[str, object]]] = []
    answers = 0
    deadline = time.monotonic() + 120
    while not any(e["type"] == "TEXT_MESSAGE_CONTENT" for _, e in seen):
        assert time.monotonic() < deadline, seen
        response, events = _answer(mesh, run_id, seen[-1][0] if seen else 0)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        assert response.text.startswith("retry: 250\n\n")
        seen += events
        answers += 1
    with mesh.api() as api:
        assert api.get(f"/api/runs/{run_id}").json()["progress"]["usage"]["llm_calls"] == 0, "the step completed"
    httpx.post(f"{mesh.extra[0].url}/_control/release").raise_for_status()
    while not any(e["type"] in ("RUN_FINISHED", "RUN_ERROR") and "interrupt" not in json.dumps(e) for _, e in seen):
        assert time.monotonic() < deadline, seen
        seen += _answer(mesh, run_id, seen[-1][0])[1]
        answers += 1
    assert [i for i, _ in seen] == list(range(1, len(seen) + 1))
    # The answers that brought the first text ended while the model step was held: they are bounded.
    assert answers >= 2
    with mesh.api() as api:
        agui = {"threadId": run_id, "runId": "r", "state": {}, "messages": [], "tools": [], "context": [],
                "forwardedProps": {}}  # fmt: skip
        replay = api.post(f"/api/runs/{run_id}/events", json=agui)
        assert replay.status_code == 200 and replay.headers["content-type"].startswith("text/event-stream")
        assert replay.text.rstrip().splitlines()[-1].startswith('data: {"type":"RUN_FINISHED"')
        bad = api.get(f"/api/runs/{run_id}/events", params={"after": "x"})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "after"
        assert api.get("/api/runs/no-such-run/events").status_code == 404


def test_the_cli_follows_a_run_one_bounded_answer_at_a_time(mesh: Mesh, tmp_path: Path) -> None:
    run_id = mesh.start_run({"objective": "Describe the sea", "initial_tasks": ["Describe the sea", "Describe the sky"],
                             "tools": [], "model": "slow", "budgets": {"max_iterations": 3}})  # fmt: skip
    with CliProcess(mesh.url, mesh.keys["functions"], "show", run_id, "--follow", cwd=tmp_path) as cli:
        code, out, err = cli.finish()
    assert code == 0, (out, err)
    assert out.count("outcome completed") == 1, out
    assert "following by polling" not in out + err
    texts = model_texts(f"{mesh.url}/api/runs/{run_id}/events", mesh.keys["functions"])
    assert texts and [out.count(text) for text in texts] == [1] * len(texts), (texts, out)
