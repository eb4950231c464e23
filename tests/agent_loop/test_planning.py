from datetime import UTC, datetime, timedelta

from agent_loop.planning import add_new_tasks, apply_priority, budget_stop, normalize_task, parse_json_object
from agent_loop.run_request import RunRequest
from agent_loop.state import RunState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _state(**budgets: int) -> RunState:
    request = RunRequest.model_validate({"objective": "o", "budgets": budgets}).model_dump(mode="json")
    return RunState(request=request, run_id="r1", started_at=T0.isoformat())


def test_new_tasks_skip_done_pending_and_repeated_ones():
    state = _state()
    state.add_task("Write the report")
    done = state.add_task("Compute the total")
    state.pending.remove(done)
    state.done.append(done)
    added = add_new_tasks(state, ["write the report!", "Compute  the total", "Send it", "send it", 7], 5)
    assert [t.task for t in added] == ["Send it"]
    assert [t.id for t in state.pending] == [1, 3]


def test_new_tasks_are_capped():
    state = _state()
    added = add_new_tasks(state, [f"task {i}" for i in range(10)], 3)
    assert len(added) == 3 and state.next_task_id == 4


def test_priority_accepts_only_a_permutation():
    state = _state()
    for text in ("a", "b", "c"):
        state.add_task(text)
    assert apply_priority(state, [3, 1, 2])
    assert [t.task for t in state.pending] == ["c", "a", "b"]
    for bad in ([3, 1], [3, 1, 2, 2], [3, 1, 4], "3,1,2", None):
        assert not apply_priority(state, bad)
        assert [t.task for t in state.pending] == ["c", "a", "b"]


def test_budget_stop_names_the_spent_budget():
    state = _state(max_iterations=2, max_tool_calls=3, max_tokens=1000, deadline_seconds=60)
    assert budget_stop(state, T0) is None
    assert budget_stop(state, T0 + timedelta(seconds=60)) == "deadline"
    state.usage.total_tokens = 1000
    assert budget_stop(state, T0) == "max_tokens"
    state.usage.tool_calls = 3
    assert budget_stop(state, T0) == "max_tool_calls"
    state.iteration = 2
    assert budget_stop(state, T0) == "max_iterations"


def test_json_object_parsing_tolerates_fences_and_prose():
    assert parse_json_object('```json\n{"tasks": []}\n```') == {"tasks": []}
    assert parse_json_object('Sure: {"order": [1]} done') == {"order": [1]}
    assert parse_json_object("[1, 2]") is None
    assert parse_json_object("not json") is None
    assert parse_json_object(None) is None


def test_normalize_task_ignores_case_and_punctuation():
    assert normalize_task("  File an Issue, now! ") == normalize_task("file an issue now")
