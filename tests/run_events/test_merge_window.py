"""``TOOLMESH_EVENTS_MERGE_MS``: a model's pieces within the window go out as one delta, text unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.local_mesh import mesh_with_fake_upstream
from tests.support.sse_client import read_events

SLOW = "slow?chunks=16&gap_ms=50"
"""One text of 16 pieces, 50 ms apart: 0.8 s of writing per model step."""


@pytest.mark.parametrize(("merge_ms", "most_deltas"), [("0", None), ("400", 5)])
def test_the_merge_window_sets_how_many_deltas_a_step_becomes(
    tmp_path: Path, merge_ms: str, most_deltas: int | None
) -> None:
    env = {"TOOLMESH_EVENTS_MERGE_MS": merge_ms}
    with mesh_with_fake_upstream(tmp_path, {"slow": SLOW}, host_env=env) as mesh:
        run_id = mesh.start_run({"objective": "Describe the sea", "initial_tasks": ["Describe the sea"],
                                 "model": "slow", "tools": [], "budgets": {"max_iterations": 1}})  # fmt: skip
        reading = read_events(f"{mesh.url}/api/runs/{run_id}/events", mesh.keys["functions"])
    assert reading.closed, reading
    steps: dict[str, list[str]] = {}
    for event in reading.events:
        if event.data["type"] == "TEXT_MESSAGE_CONTENT":
            steps.setdefault(event.data["messageId"], []).append(event.data["delta"])
    streamed = [deltas for deltas in steps.values() if "".join(deltas).startswith("fake reply")]
    assert streamed, steps
    for deltas in streamed:
        if most_deltas is None:
            assert len(deltas) == 16, deltas  # every piece as it came
        else:
            assert 1 < len(deltas) <= most_deltas, deltas  # merged, yet still more than one
