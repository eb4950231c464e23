"""Outside events and the waits they answer: names, match expressions and how one is checked.

An outside event is ``{"name": "developer.response", "data": {...}}`` posted to ``/api/events``.
A run waits for one with a name and a match: event data fields (dots for nesting) and the
values they must equal, resolved when the wait starts from the run's inputs, the call's
arguments or the operation's answer. Pure functions, shared by the orchestrator and the API.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "HELD_EVENT_ORCHESTRATOR",
    "OutsideEvent",
    "data_at",
    "event_matches",
    "held_event_prefix",
    "resolve_match",
    "wait_event_name",
]

HELD_EVENT_ORCHESTRATOR = "held_event"
MISSING = object()


class OutsideEvent(BaseModel):
    """The body of ``POST /api/events``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
    data: dict[str, Any] = Field(default_factory=dict)
    keep_seconds: int | None = Field(default=None, ge=0, le=7 * 86_400)
    """How long the event waits for runs that start waiting later; default from the settings."""


def wait_event_name(wait_id: str) -> str:
    """The durable event that answers one wait of a run; unique per wait, so a late copy answers none."""
    return f"outside-{wait_id}"


def held_event_prefix(name: str) -> str:
    """Instance ids of kept events start with this, so a wait lists only its event's name."""
    return f"held-event-{hashlib.sha256(name.encode()).hexdigest()[:16]}-"


def data_at(data: Any, path: str) -> Any:
    """The value at a dotted path of ``data``, or MISSING."""
    value = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def resolve_match(
    match: dict[str, str], *, inputs: dict[str, Any], arguments: dict[str, Any], response: Any
) -> tuple[dict[str, Any], str | None]:
    """The values each event field must equal; an error text names a source the run lacks."""
    sources = {"input": inputs, "arguments": arguments, "response": response}
    resolved: dict[str, Any] = {}
    for field, source in match.items():
        kind, _, path = source.partition(".")
        value = data_at(sources.get(kind), path)
        if value is MISSING or isinstance(value, dict | list):
            return {}, f"the wait matches {field} on {source}, which the run does not have as a plain value"
        resolved[field] = value
    return resolved, None


def _same(a: Any, b: Any) -> bool:
    # A ticket id may arrive as 42 or "42": compare scalars by their text, but never a bool with a number.
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b or str(a) == str(b)


def event_matches(expected: dict[str, Any], data: Any) -> bool:
    """True when every expected field of ``data`` holds its value."""
    return all(_same(data_at(data, field), value) for field, value in expected.items())
