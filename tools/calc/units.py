"""Unit conversion with pint, computed in decimals rather than binary floats.

pint knows the units (SI, imperial, US customary, temperatures with offsets, compound
units such as km/h) and parses unit names with its own small parser, not ``eval``.
The registry is built once per process; building it takes a moment, so the app
warms it up at startup.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from functools import cache

import pint

from .errors import UnitError

__all__ = ["Conversion", "convert", "registry"]

PRECISION = 40
SIGNIFICANT = 24
"""Digits kept in a result: pint's own conversion factors are good to about 27."""
MAX_UNIT_POWER = 12


@dataclass(frozen=True, kw_only=True)
class Conversion:
    value: Decimal
    """The converted value, rounded to ``SIGNIFICANT`` digits."""
    from_unit: str
    to_unit: str


@cache
def registry() -> pint.UnitRegistry:  # type: ignore[type-arg]
    return pint.UnitRegistry(non_int_type=Decimal, autoconvert_offset_to_baseunit=True)


def _unit(text: str) -> pint.Unit:
    try:
        unit = registry().parse_units(text)
    except pint.UndefinedUnitError:
        raise UnitError(f"unknown unit {text!r}; use names like m, km, mile, kg, lb, degC, degF, km/h") from None
    except Exception:  # pint's parser raises many kinds of errors on malformed unit text
        raise UnitError(f"cannot read {text!r} as a unit; write units like km/h, m^2 or kWh") from None
    if any(abs(float(power)) > MAX_UNIT_POWER for power in unit.dimensionality.values()):  # type: ignore[arg-type]
        raise UnitError(f"unit {text!r} has a power beyond ±{MAX_UNIT_POWER}")
    return unit


def convert(value: Decimal, from_unit: str, to_unit: str) -> Conversion:
    """Convert ``value`` ``from_unit`` to ``to_unit``, or raise UnitError saying why not."""
    source, target = _unit(from_unit), _unit(to_unit)
    with localcontext() as ctx:
        ctx.prec = PRECISION
        try:
            result = registry().Quantity(value, source).to(target)
        except pint.DimensionalityError:
            raise UnitError(
                f"cannot convert {from_unit!r} ({source.dimensionality}) to {to_unit!r}"
                f" ({target.dimensionality}): they measure different things"
            ) from None
        except (ArithmeticError, ValueError) as exc:
            raise UnitError(f"cannot convert {value} {from_unit} to {to_unit}: {exc}") from None
        ctx.prec = SIGNIFICANT
        magnitude = +Decimal(result.magnitude)
    return Conversion(value=magnitude, from_unit=str(source), to_unit=str(target))
