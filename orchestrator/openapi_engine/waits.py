"""Waits for outside events that an operation declares: ``x-toolmesh-wait`` in a spec, ``waits`` in the registry.

After such an operation succeeds, the run waits for an event with the given name whose data
matches values the run knows, for example::

    x-toolmesh-wait:
      event: developer.response
      match: {ticketId: input.ticketId}   # data.ticketId must equal the run's input "ticketId"
      timeout_seconds: 14400

``match`` maps a field of the event's data (dots for nesting) to where the expected value comes
from: ``input.<name>`` (the run's inputs), ``arguments.<name>`` (the call's arguments) or
``response.<path>`` (the operation's JSON answer). A plain string ``ticketId`` is short for
``{ticketId: input.ticketId}``.
"""

from __future__ import annotations

import re
from typing import Any

from .models import WaitSpec

__all__ = ["parse_wait"]

_EVENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_SOURCE = re.compile(r"^(input|arguments|response)\.[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
MAX_TIMEOUT_SECONDS = 30 * 86_400


def parse_wait(raw: Any) -> WaitSpec:
    """A declared wait, or ValueError saying what is wrong with it."""
    if not isinstance(raw, dict):
        raise ValueError("x-toolmesh-wait must be an object with event, match and timeout_seconds")
    unknown = set(raw) - {"event", "match", "timeout_seconds"}
    if unknown:
        raise ValueError(f"x-toolmesh-wait: unknown keys {sorted(unknown)}")
    event = raw.get("event")
    if not isinstance(event, str) or not _EVENT.match(event):
        raise ValueError("x-toolmesh-wait.event must be an event name such as developer.response")
    match = raw.get("match", {})
    if isinstance(match, str):
        match = {match: f"input.{match}"}
    if not isinstance(match, dict) or not match:
        raise ValueError("x-toolmesh-wait.match must name at least one event data field")
    for field, source in match.items():
        if not isinstance(field, str) or not _FIELD.match(field):
            raise ValueError(f"x-toolmesh-wait.match: {field!r} is not a data field path")
        if not isinstance(source, str) or not _SOURCE.match(source):
            raise ValueError(
                f"x-toolmesh-wait.match.{field}: {source!r} must be input.<name>, arguments.<name> or response.<path>"
            )
    timeout = raw.get("timeout_seconds")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT_SECONDS
    ):
        raise ValueError(f"x-toolmesh-wait.timeout_seconds must be a number in (0, {MAX_TIMEOUT_SECONDS}]")
    return WaitSpec(event=event, match=dict(match), timeout_seconds=float(timeout) if timeout is not None else None)
