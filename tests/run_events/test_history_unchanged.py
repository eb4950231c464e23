"""Streaming is a side channel: a run's durable history is the same with live events on and off."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.support.local_mesh import Mesh, start_mesh

REQUEST = {
    "objective": "Calculate 12 * 49.90 for the licence budget. Write a note with the licence budget result.",
    "budgets": {"max_iterations": 3},
}
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
_EXECUTION = re.compile(r"@[0-9a-f]{8}\b")
"""The model step's execution in the ids its events give tool calls (new for every execution)."""
_VOLATILE = {"Timestamp", "ScheduledTime", "FireAt", "timestamp", "timing", "start", "end", "since", "asked_at",
             "expires_at", "started_at", "finished_at", "trace_id", "note_id", "seconds"}  # fmt: skip


def _history(mesh: Mesh, run_id: str) -> list[dict[str, Any]]:
    with mesh.api() as api:
        response = api.get(
            f"/runtime/webhooks/durabletask/instances/{run_id}",
            params={"showHistory": "true", "showHistoryOutput": "true", "showInput": "true"},
        )
    assert response.status_code == 200, response.text
    history: list[dict[str, Any]] = response.json()["historyEvents"]
    return history


def _shape(value: Any, run_id: str) -> Any:
    """The history with what must differ between two runs (times, ids, durations) blanked out."""
    if isinstance(value, str):
        if value[:1] in "{[":
            try:
                return _shape(json.loads(value), run_id)
            except ValueError:
                pass
        value = _EXECUTION.sub("@<execution>", _TIME.sub("<time>", value.replace(run_id, "<run>")))
        return re.sub(r"note_[0-9a-f]+", "<note>", value)
    if isinstance(value, dict):
        return {k: "<volatile>" if k in _VOLATILE else _shape(v, run_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_shape(v, run_id) for v in value]
    return value


def test_history_is_the_same_with_streaming_on_and_off(tmp_path: Path) -> None:
    mesh = start_mesh(tmp_path)
    try:
        streamed = mesh.start_run(REQUEST)
        assert mesh.wait(streamed)["status"] == "Completed"
        assert mesh.host is not None
        mesh.host.stop()
        mesh.host_env.update({"TOOLMESH_EVENTS": "off", "TOOLMESH_STREAM_MODEL_STEPS": "false"})
        mesh.start_host()
        plain = mesh.start_run(REQUEST)
        assert mesh.wait(plain)["status"] == "Completed"
        with_events, without = _history(mesh, streamed), _history(mesh, plain)
        assert [e["EventType"] for e in with_events] == [e["EventType"] for e in without]

        # Parallel activities (a memory write beside a model step) may complete in either order.
        def events(history: list[dict[str, Any]], run_id: str) -> list[str]:
            return sorted(json.dumps(_shape(e, run_id), sort_keys=True) for e in history)

        shapes, plain_shapes = events(with_events, streamed), events(without, plain)
        differing = [(a, b) for a, b in zip(shapes, plain_shapes, strict=True) if a != b]
        assert not differing, differing[:2]
        # The streamed run's events really were published meanwhile (into the host's data dir).
        assert (tmp_path / "host" / "run-events.sqlite3").stat().st_size > 0
    finally:
        mesh.stop()
