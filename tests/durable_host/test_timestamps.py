"""The fast timestamp parser returns exactly what ``dateutil.parser.parse`` returns.

Equality of value is not enough: the SDK keeps the ``datetime`` objects, so the ``tzinfo``
class (``tzlocal`` or ``tzutc``, depending on the process's zone names), microseconds and
fold must match too, and bad input must fail with dateutil's own error.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from dateutil.parser import parse as dateutil_parse  # type: ignore[import-untyped]

from durable_host import history as h
from durable_host.timestamps import TimestampCache, fast_parse
from tests.durable_host.python_child import run_python

SUFFIXES = ("Z", "+00:00", "")


def _outcome(parse: Any, text: Any) -> tuple[str, ...]:
    """Everything observable about a parse: see :func:`_describe`, or the error it raised."""
    try:
        value = parse(text)
    except Exception as exc:
        return ("error", type(exc).__name__, str(exc))
    return _describe(value)


def _describe(value: datetime) -> tuple[str, ...]:
    """The repr, tzinfo class, offset, zone name, fold and microseconds of a parsed value."""
    return (
        repr(value),
        type(value.tzinfo).__name__,
        str(value.utcoffset()),
        str(value.tzname()),
        str(value.fold),
        str(value.microsecond),
    )


def _generated(seed: int, count: int) -> list[str]:
    """ISO timestamps in the shapes hosts write, valid and out of range, with 0 to 9 fractional digits."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        year = rng.choice([rng.randint(1, 9999), rng.randint(1990, 2100), 1, 9999, 0])
        month = rng.choice([rng.randint(1, 12)] * 6 + [0, 13])
        day = rng.choice([rng.randint(1, 28)] * 4 + [29, 30, 31, 32, 0])
        hour = rng.choice([rng.randint(0, 23)] * 6 + [24])
        minute = rng.choice([rng.randint(0, 59)] * 6 + [60])
        second = rng.choice([rng.randint(0, 59)] * 6 + [59, 60])
        digits = rng.randint(0, 9)
        fraction = rng.choice(["".join(rng.choice("0123456789") for _ in range(digits)), "9" * digits, "0" * digits])
        text = f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
        if fraction:
            text += "." + fraction
        texts.append(text + rng.choice(SUFFIXES))
    return texts


EDGES = [
    "2024-05-01T10:00:00Z",
    "2024-05-01T10:00:00.0000000Z",
    "2024-05-01T10:00:00.9999999Z",
    "2024-12-31T23:59:59.9999999Z",
    "9999-12-31T23:59:59.9999999Z",
    "0001-01-01T00:00:00Z",
    "0099-01-02T03:04:05.5Z",
    "2024-02-29T12:00:00.1Z",
    "2023-02-29T12:00:00.1Z",
    "2024-05-01T10:00:00.12Z",
    "2024-05-01T10:00:00.123Z",
    "2024-05-01T10:00:00.1234Z",
    "2024-05-01T10:00:00.12345Z",
    "2024-05-01T10:00:00.123456Z",
    "2024-05-01T10:00:00.1234567Z",
    "2024-05-01T10:00:00.1234567+00:00",
    "2024-05-01T10:00:00.1234567",
    "2024-05-01T10:00:00." + "9" * 40 + "Z",
    "2024-05-01T24:00:00Z",
    "2024-05-01T23:59:60Z",
    # not the fast path's shape: dateutil decides (and the cache must agree)
    "2024-05-01T10:00:00.Z",
    "2024-05-01 10:00:00Z",
    "2024-05-01T10:00:00z",
    "2024-05-01T10:00:00+02:00",
    "2024-05-01T10:00Z",
    "2024-05-01",
    " 2024-05-01T10:00:00Z",
    "2024-05-01T10:00:00Z ",
    "2024-05-01T10:00:00,5Z",
    "２０２４-05-01T10:00:00Z",
    "not a time",
    "",
]


def test_fast_parse_matches_dateutil_over_generated_and_edge_timestamps() -> None:
    cache = TimestampCache(dateutil_parse, limit=1 << 20)
    fast_taken = 0
    for text in EDGES + _generated(seed=20240501, count=4000):
        expected = _outcome(dateutil_parse, text)
        assert _outcome(cache.__getitem__, text) == expected, text
        assert _outcome(cache.__getitem__, text) == expected, f"cached: {text}"
        quick = fast_parse(text)
        if quick is not None:
            fast_taken += 1
            assert _describe(quick) == expected, text
    assert fast_taken > 800  # the fast path is actually taken (most generated strings are out of range)


def test_fast_parse_matches_dateutil_for_timestamps_the_host_writes() -> None:
    start = datetime(2024, 5, 1, 23, 59, 58, tzinfo=UTC)
    for step in range(3000):
        moment = start + timedelta(microseconds=step * 997)
        text = h.dtfx_time(moment)
        parsed = fast_parse(text)
        assert parsed is not None, text
        assert _describe(parsed) == _outcome(dateutil_parse, text)
        assert parsed == moment


def test_fast_parse_truncates_fraction_past_six_digits_like_dateutil() -> None:
    parsed = fast_parse("2024-12-31T23:59:59.9999999Z")
    assert parsed is not None
    assert (parsed.year, parsed.second, parsed.microsecond) == (2024, 59, 999999)
    assert parsed == dateutil_parse("2024-12-31T23:59:59.9999999Z")


def test_fast_parse_defers_to_dateutil_when_local_zone_is_utc_only_part_of_the_year(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "tzname", ("UTC", "UTCX"))
    assert fast_parse("2024-05-01T10:00:00Z") is None
    assert fast_parse("2024-05-01T10:00:00") is not None  # naive: no zone involved


def test_fast_parse_attaches_tzutc_when_local_zone_names_lack_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "tzname", ("GMT", "BST"))
    parsed = fast_parse("2024-05-01T10:00:00Z")
    assert parsed is not None
    assert type(parsed.tzinfo).__name__ == "tzutc"


_TZ_SCRIPT = """
import json, os, sys, time
from dateutil.parser import parse
from durable_host.timestamps import TimestampCache
texts = json.loads(sys.stdin.read())
report = {}
for zone in ("UTC", "Europe/London", "America/New_York", "Etc/GMT-3", "Africa/Abidjan", "Asia/Kolkata"):
    os.environ["TZ"] = zone
    time.tzset()
    cache = TimestampCache(parse, limit=1 << 20)
    mismatches = []
    for text in texts:
        def outcome(fn):
            try:
                value = fn(text)
            except Exception as exc:
                return ["error", type(exc).__name__, str(exc)]
            return [repr(value), type(value.tzinfo).__name__, str(value.utcoffset()), str(value.tzname()), value.fold]
        if outcome(cache.__getitem__) != outcome(parse):
            mismatches.append(text)
    report[zone] = [time.tzname, mismatches[:5]]
print(json.dumps(report))
"""


def test_fast_parse_matches_dateutil_in_other_local_time_zones() -> None:
    if not Path("/usr/share/zoneinfo/Europe/London").exists():
        pytest.skip("the system time zone database (/usr/share/zoneinfo) is not installed")
    texts = EDGES + _generated(seed=7, count=800)
    report = json.loads(run_python(_TZ_SCRIPT, json.dumps(texts)))
    assert report["Europe/London"][0] == ["GMT", "BST"]
    assert {zone: mismatches for zone, (_, mismatches) in report.items() if mismatches} == {}


def test_cache_keeps_only_full_date_and_time_strings() -> None:
    cache = TimestampCache(dateutil_parse, limit=1 << 10)
    cache["2024-05-01T10:00:00.5Z"]
    cache["2024-05-01T10:00:00+02:00"]
    cache["10:00"]  # dateutil fills the date from today: must not be remembered
    assert set(cache) == {"2024-05-01T10:00:00.5Z"}


def test_cache_empties_itself_at_its_limit() -> None:
    cache = TimestampCache(dateutil_parse, limit=3)
    for second in range(5):
        cache[f"2024-05-01T10:00:0{second}Z"]
    assert len(cache) <= 3
    assert cache["2024-05-01T10:00:04Z"] == datetime(2024, 5, 1, 10, 0, 4, tzinfo=UTC)


def test_cache_raises_dateutils_error_for_bad_input_and_remembers_nothing() -> None:
    cache = TimestampCache(dateutil_parse, limit=1 << 10)
    for bad in ("2024-02-30T10:00:00Z", "garbage", None, 17):
        assert _outcome(cache.__getitem__, bad) == _outcome(dateutil_parse, bad)
        assert _outcome(cache.__getitem__, bad)[0] == "error"
    assert len(cache) == 0


def test_dtfx_time_writes_seven_digit_utc_for_any_zone_and_equal_instants() -> None:
    rng = random.Random(3)
    for _ in range(2000):
        moment = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(
            seconds=rng.randint(0, 10**8), microseconds=rng.choice([0, rng.randint(0, 999999)])
        )
        zone = timezone(timedelta(minutes=rng.choice([0, 180, -330, 345])))
        local = moment.astimezone(zone)
        expected = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}0Z"
        assert h.dtfx_time(local) == expected
        assert h.dtfx_time(moment) == expected
        assert h.parse_time(expected) == moment
