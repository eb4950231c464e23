"""Outside events: how a wait's match is resolved from the run and checked against an event."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent_loop.outside_events import OutsideEvent, event_matches, held_event_prefix, resolve_match


def test_a_match_resolves_from_inputs_arguments_and_the_response() -> None:
    expected, problem = resolve_match(
        {"ticketId": "input.ticketId", "issue.id": "response.id", "to": "arguments.to"},
        inputs={"ticketId": "T-1"},
        arguments={"to": "dev"},
        response={"id": 7},
    )
    assert problem is None and expected == {"ticketId": "T-1", "issue.id": 7, "to": "dev"}


def test_a_source_the_run_lacks_is_a_clear_problem() -> None:
    expected, problem = resolve_match({"ticketId": "input.ticketId"}, inputs={}, arguments={}, response=None)
    assert expected == {} and problem is not None and "input.ticketId" in problem


def test_matching_compares_nested_fields_and_scalars_by_text_but_not_bools() -> None:
    assert event_matches({"ticketId": "42"}, {"ticketId": 42})
    assert event_matches({"issue.id": 7}, {"issue": {"id": 7}, "other": 1})
    assert not event_matches({"ticketId": "T-1"}, {"ticketId": "T-2"})
    assert not event_matches({"ticketId": "T-1"}, {})
    assert not event_matches({"ok": True}, {"ok": 1})


def test_event_bodies_are_validated() -> None:
    assert OutsideEvent.model_validate({"name": "developer.response", "data": {"a": 1}}).name == "developer.response"
    for bad in ({"name": ""}, {"name": "x", "extra": 1}, {"name": "has space"}, {"name": "x", "data": []}):
        with pytest.raises(ValidationError):
            OutsideEvent.model_validate(bad)
    assert held_event_prefix("a") != held_event_prefix("b")
