import pytest

from agent_loop.run_request import RunRequestError, parse_run_request


def test_defaults_fill_an_objective_only_request():
    request = parse_run_request({"objective": "  Plan a trip  "})
    assert request.objective == "Plan a trip"
    assert request.budgets.max_iterations == 8
    assert request.tools is None and request.model == "default"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "objective"),
        ({"objective": ""}, "objective"),
        ({"objective": 5}, "objective"),
        ({"objective": "x", "budgets": {"max_iterations": 0}}, "budgets.max_iterations"),
        ({"objective": "x", "budgets": {"max_tokens": "lots"}}, "budgets.max_tokens"),
        ({"objective": "x", "budgets": {"bogus": 1}}, "budgets.bogus"),
        ({"objective": "x", "approval": {"notes": "sometimes"}}, "approval.notes"),
        ({"objective": "x", "surprise": True}, "surprise"),
        ({"objective": "x", "initial_tasks": ["ok", ""]}, "initial_tasks.1"),
    ],
)
def test_bad_fields_are_named(body, field):
    with pytest.raises(RunRequestError) as info:
        parse_run_request(body)
    assert info.value.field == field
    assert field in info.value.message


def test_non_object_body_is_refused():
    with pytest.raises(RunRequestError, match="JSON object"):
        parse_run_request(["objective"])
