"""Parsing history timestamps exactly as ``dateutil.parser.parse`` does, without its cost.

The SDK parses every history event's ``Timestamp`` with ``dateutil.parser.parse`` (tens of
microseconds each). The timestamps it reads are the ones this host writes (``dtfx_time``:
seven fractional digits and ``Z``) or the .NET host writes (zero to seven digits, ``Z``), so a
strict pattern for ``YYYY-MM-DDTHH:MM:SS[.fraction][Z|+00:00]`` covers them and builds the
``datetime`` directly. The result must be the one dateutil returns, down to the ``tzinfo``
class, because the SDK compares and exposes these values:

- fractional digits past the sixth are cut off, not rounded (``_parsems`` pads to six and
  slices), so ``.9999999`` is 999999 microseconds;
- a zero offset (``Z`` or ``+00:00``) is named ``UTC`` by dateutil's ``parserinfo.validate``;
  when the process's ``time.tzname`` contains ``UTC`` dateutil attaches ``tz.tzlocal()``,
  otherwise ``tz.UTC``. Only the case where every local zone name is ``UTC`` is decided here
  (then ``tzlocal`` never changes the name, so no fold handling applies); a zone that is
  ``UTC`` for only part of the year is left to dateutil;
- no suffix gives a naive ``datetime``.

Anything else, and any value ``datetime`` rejects (Feb 30, hour 24), goes to dateutil itself,
so errors are dateutil's too. ``TimestampCache`` puts a dictionary in front: replays see the
same strings again and again, and a hit costs one C-level lookup.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any

from dateutil import tz  # type: ignore[import-untyped]

__all__ = ["TimestampCache", "fast_parse"]

_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?(Z|\+00:00)?")
_UNDECIDED = object()  # the local zone is named UTC only part of the time: dateutil decides per date
_zones: dict[tuple[Any, ...], object] = {}


def _zero_offset_zone() -> object:
    """The ``tzinfo`` dateutil gives a zero-offset time in this process, or ``_UNDECIDED``.

    Keyed on the values ``tzlocal`` reads, so a ``time.tzset()`` after a change of ``TZ`` is
    followed (each key's ``tzlocal`` equals the one dateutil would build then).
    """
    key = (tuple(time.tzname), time.timezone, time.altzone, time.daylight)
    zone = _zones.get(key)
    if zone is None:
        if "UTC" not in key[0]:
            zone = tz.UTC
        elif all(name == "UTC" for name in key[0]):
            zone = tz.tzlocal()
        else:
            zone = _UNDECIDED
        _zones[key] = zone
    return zone


def fast_parse(text: str) -> datetime | None:
    """The ``datetime`` dateutil would return for ``text``, or None when dateutil must decide."""
    match = _ISO.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, suffix = match.groups()
    zone: tzinfo | None = None
    if suffix is not None:
        resolved = _zero_offset_zone()
        if resolved is _UNDECIDED:
            return None
        assert isinstance(resolved, tzinfo)
        zone = resolved
    micro = int(fraction[:6].ljust(6, "0")) if fraction else 0
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone)
    except ValueError:
        return None  # out of range: dateutil raises its own error


class TimestampCache(dict[Any, datetime]):
    """Maps timestamp strings to parsed values; ``cache[text]`` is the drop-in for ``parse(text)``.

    A miss parses with :func:`fast_parse`, falling back to ``original``. Only full
    date-and-time strings are kept: their result cannot depend on the day the parse runs
    (dateutil fills missing fields from today). The cache is emptied when it reaches
    ``limit`` entries, which bounds memory at the price of a few cheap re-parses.
    """

    def __init__(self, original: Callable[[Any], datetime], limit: int) -> None:
        super().__init__()
        self._original = original
        self._limit = limit

    def __missing__(self, text: Any) -> datetime:
        if not isinstance(text, str):
            return self._original(text)
        parsed = fast_parse(text)
        if parsed is None:
            parsed = self._original(text)
            if _ISO.fullmatch(text) is None:
                return parsed
        if len(self) >= self._limit:
            self.clear()
        self[text] = parsed
        return parsed
