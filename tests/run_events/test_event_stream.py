"""GET /api/runs/{id}/events over real sockets, with the embedded channel and with a real Redis.

The model is a fake OpenAI upstream behind the gateway that streams its answers in pieces (and
can hold a stream half sent), so the tests can see deltas while a model step is still running.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.local_mesh import Mesh, start_mesh
from tests.support.servers import RunningServer, start_uvicorn
from tests.support.sse_client import SseEvent, SseReading, read_events, read_in_thread

SLOW = "slow?chunks=8&gap_ms=30"
HELD = "held?chunks=8&hold_after=2"
TEXT_RUN = {"objective": "Describe the sky", "initial_tasks": ["Describe the sky in one line"], "tools": []}


def _gateway_config(root: Path, upstream: RunningServer) -> Path:
    def deployment(model: str) -> dict[str, Any]:
        return {"provider": "openai", "base_url": f"{upstream.url}/v1", "api_key": "sk-fake", "model": model}

    models = {
        "default": {"deployments": [{"provider": "offline"}]},
        "slow": {"deployments": [deployment(SLOW)]},
        "held": {"deployments": [deployment(HELD)]},
    }
    config = root / "gateway.yaml"
    config.write_text(yaml.safe_dump({"models": models}))
    return config


@pytest.fixture(scope="module", params=["embedded", "redis"])
def mesh(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    host_env = {"TOOLMESH_EVENTS_KEEPALIVE": "1"}
    if request.param == "redis":
        host_env["TOOLMESH_EVENTS"] = request.getfixturevalue("redis_url")
    root = tmp_path_factory.mktemp(f"events-{request.param}")
    upstream = start_uvicorn("tests.support.fake_openai:app", log_path=root / "logs" / "upstream.log")
    try:
        running = start_mesh(
            root,
            gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(_gateway_config(root, upstream))},
            host_env=host_env,
        )
    except BaseException:
        upstream.stop()
        raise
    running.extra.append(upstream)
    try:
        yield running
    finally:
        running.stop()


def _url(mesh: Mesh, run_id: str) -> str:
    return f"{mesh.url}/api/runs/{run_id}/events"


def _key(mesh: Mesh) -> str:
    return mesh.keys["functions"]


def _is(event: SseEvent, kind: str) -> bool:
    return event.data.get("type") == kind


def _wait_until(check: Any, explain: Any, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"the condition did not hold in time: {explain()}"
        time.sleep(0.02)


def _assert_whole(events: list[SseEvent]) -> None:
    """Ids 1..n with none missing or repeated, one start, one end, and text messages well formed."""
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    assert [e.data["type"] for e in events].count("RUN_STARTED") >= 1
    assert events[0].data["type"] == "RUN_STARTED" and events[-1].data["type"] == "RUN_FINISHED"
    assert "outcome" not in events[-1].data or events[-1].data["outcome"]["type"] != "interrupt"
    opened: set[str] = set()
    for event in events:
        if _is(event, "TEXT_MESSAGE_START"):
            opened.add(event.data["messageId"])
        elif _is(event, "TEXT_MESSAGE_CONTENT"):
            assert event.data["messageId"] in opened
        elif _is(event, "TEXT_MESSAGE_END"):
            opened.remove(event.data["messageId"])
    assert not opened


def test_two_watchers_see_the_same_events_and_deltas_before_the_step_ends(mesh: Mesh) -> None:
    run_id = mesh.start_run({**TEXT_RUN, "model": "held"})
    first, a = read_in_thread(_url(mesh, run_id), _key(mesh))
    second, b = read_in_thread(_url(mesh, run_id), _key(mesh))

    def deltas(reading: SseReading) -> int:
        return sum(1 for e in list(reading.events) if _is(e, "TEXT_MESSAGE_CONTENT"))

    # The upstream holds the execute_task stream after two pieces (which may come as one delta,
    # pieces close together are published together): both watchers have text now, while the
    # model step is still running (nothing after it has happened).
    _wait_until(
        lambda: deltas(a) >= 1 and deltas(b) >= 1,
        lambda: (a.status, a.error, a.events[-3:], b.status, b.error, b.events[-3:], mesh.host.log()[-3000:]),  # type: ignore[union-attr]
    )
    with mesh.api() as api:
        progress = api.get(f"/api/runs/{run_id}").json()["progress"]
    assert progress["usage"]["llm_calls"] == 0 and progress["phase"] == "executing"
    assert not any(_is(e, "TEXT_MESSAGE_END") for e in list(a.events) + list(b.events))
    httpx.post(f"{mesh.extra[0].url}/_control/release")
    first.join(60)
    second.join(60)
    assert a.error is None and b.error is None and a.closed and b.closed
    assert a.events == b.events
    _assert_whole(a.events)
    texts = "".join(e.data["delta"] for e in a.events if _is(e, "TEXT_MESSAGE_CONTENT"))
    assert "fake reply" in texts
    assert mesh.wait(run_id)["status"] == "Completed"


def test_a_watcher_that_reconnects_gets_every_missed_event_once(mesh: Mesh) -> None:
    run_id = mesh.start_run({**TEXT_RUN, "model": "slow"})
    before = read_events(_url(mesh, run_id), _key(mesh), stop=lambda e: _is(e, "TEXT_MESSAGE_CONTENT"))
    assert before.last_id is not None and not before.closed
    after = read_events(_url(mesh, run_id), _key(mesh), last_event_id=before.last_id)
    assert after.closed
    whole = read_events(_url(mesh, run_id), _key(mesh))
    assert before.events + after.events == whole.events
    _assert_whole(whole.events)
    by_query = read_events(f"{_url(mesh, run_id)}?after={before.last_id}", _key(mesh))
    assert by_query.events == after.events


def test_a_finished_run_replays_its_events_and_closes(mesh: Mesh) -> None:
    run_id = mesh.start_run({**TEXT_RUN, "model": "slow"})
    report = mesh.wait(run_id)["output"]
    replay = read_events(_url(mesh, run_id), _key(mesh), timeout=30)
    assert replay.closed
    _assert_whole(replay.events)
    assert replay.events[-1].data["result"]["outcome"] == report["outcome"]
    tail = read_events(_url(mesh, run_id), _key(mesh), last_event_id=replay.last_id, timeout=30)
    assert tail.closed and tail.events == []


def test_bad_ids_unknown_runs_and_missing_keys_get_clear_4xx(mesh: Mesh) -> None:
    run_id = mesh.start_run({**TEXT_RUN, "model": "slow"})
    with mesh.api() as api:
        for headers, params, field in (
            ({"Last-Event-ID": "abc"}, {}, "Last-Event-ID"),
            ({"Last-Event-ID": "-1"}, {}, "Last-Event-ID"),
            ({}, {"after": "1.5"}, "after"),
            ({}, {"after": "99999999999999999999999"}, "after"),
        ):
            response = api.get(f"/api/runs/{run_id}/events", headers=headers, params=params)
            assert response.status_code == 400, response.text
            assert response.json()["error"]["field"] == field
        missing = api.get("/api/runs/no-such-run/events")
        assert missing.status_code == 404 and "no-such-run" in missing.json()["error"]["message"]
        assert api.get("/api/runs/a%2Fb/events").status_code == 404
    assert httpx.get(_url(mesh, run_id)).status_code == 401
    mesh.wait(run_id)


def test_a_host_killed_mid_run_resumes_the_stream_with_nothing_lost_or_repeated(mesh: Mesh) -> None:
    run_id = mesh.start_run({**TEXT_RUN, "model": "slow"})
    before = read_events(_url(mesh, run_id), _key(mesh), stop=lambda e: _is(e, "TEXT_MESSAGE_CONTENT"))
    assert mesh.host is not None and before.last_id is not None
    mesh.host.kill()
    mesh.start_host()
    after = read_events(_url(mesh, run_id), _key(mesh), last_event_id=before.last_id)
    assert after.closed and mesh.wait(run_id)["status"] == "Completed"
    events = before.events + after.events
    assert [e.id for e in events] == list(range(1, len(events) + 1))
    kinds = [e.data["type"] for e in events]
    assert kinds.count("RUN_STARTED") == 1 and kinds.count("RUN_FINISHED") == 1
    added = [e.data["value"]["id"] for e in events if e.data.get("name") == "toolmesh.task_added"]
    assert added == sorted(set(added)) and added


def test_a_run_that_ended_without_its_closing_event_gets_one_and_its_stream_closes(mesh: Mesh) -> None:
    """A run terminated through the durable API publishes no end of its own: a watcher finds the
    end in the run's status once the stream falls silent, publishes it once, and closes."""
    run_id = mesh.start_run({**TEXT_RUN, "model": "slow"})
    before = read_events(_url(mesh, run_id), _key(mesh), stop=lambda e: _is(e, "RUN_STARTED"))
    with mesh.api() as api:
        stopped = api.post(
            f"/runtime/webhooks/durabletask/instances/{run_id}/terminate", params={"reason": "stopped by hand"}
        )
    assert stopped.status_code == 202, stopped.text
    assert mesh.wait(run_id)["status"] == "Terminated"
    after = read_events(_url(mesh, run_id), _key(mesh), last_event_id=before.last_id, timeout=60)
    assert after.closed, after.events[-3:]
    end = after.events[-1].data
    assert end["type"] == "RUN_FINISHED" and end["outcome"]["type"] == "cancelled"
    again = read_events(_url(mesh, run_id), _key(mesh), timeout=60)
    assert again.closed and [e.data["type"] for e in again.events].count("RUN_FINISHED") == 1
    assert again.events == before.events + after.events
