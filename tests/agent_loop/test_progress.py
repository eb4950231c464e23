import json

from agent_loop.callbacks import callback_url, verify_callback
from agent_loop.progress import MAX_STATUS_CHARS, build_progress, build_report
from agent_loop.run_request import RunRequest
from agent_loop.state import CallRecord, RunState


def _big_state() -> RunState:
    request = RunRequest.model_validate({"objective": "o"}).model_dump(mode="json")
    state = RunState(request=request, run_id="r", started_at="2026-01-01T00:00:00+00:00")
    for i in range(150):
        task = state.add_task(f"task number {i} " + "x" * 300)
        task.result = "result " + "y" * 2000
        task.tool_calls.append(
            CallRecord(
                call_id=f"c{i}",
                task_id=task.id,
                function="f",
                arguments="a" * 300,
                ok=True,
                status=200,
                summary="s",
            )
        )
    state.done, state.pending = state.pending[:100], state.pending[100:]
    return state


def test_progress_stays_under_the_custom_status_limit():
    view = build_progress(_big_state(), "executing")
    assert len(json.dumps(view)) <= MAX_STATUS_CHARS
    assert view["pending_count"] == 50 and view["done_count"] == 100


def test_state_round_trips_through_json():
    state = _big_state()
    again = RunState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert again == state


def test_report_lists_tasks_and_stop_reason():
    state = _big_state()
    report = build_report(state, outcome="budget_exhausted", stop_reason="max_iterations", summary="s", model="m")
    assert report["stop_reason"] == "max_iterations"
    assert len(report["tasks"]) == 100 and len(report["pending"]) == 50
    assert report["tasks"][0]["tool_calls"] == [{"function": "f", "ok": True, "status": 200}]


def test_callback_signature_binds_run_and_call():
    url = callback_url("http://host:1/", "secret", "run-1", "c1-0-0")
    sig = url.split("sig=")[1]
    assert url.startswith("http://host:1/api/runs/run-1/callbacks/c1-0-0?sig=")
    assert verify_callback("secret", "run-1", "c1-0-0", sig)
    assert not verify_callback("secret", "run-2", "c1-0-0", sig)
    assert not verify_callback("secret", "run-1", "c1-0-1", sig)
    assert not verify_callback("", "run-1", "c1-0-0", sig)
