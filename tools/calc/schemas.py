"""Wire models of the calc service.

Results come as text (exact, any size) and as a JSON number (convenient, but a
binary float), so a caller can choose; ``exact`` says whether the text is the whole
truth.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "ConversionRequest",
    "ConversionResult",
    "ErrorDetail",
    "EvaluationRequest",
    "EvaluationResult",
    "error_responses",
]

UnitText = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class EvaluationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"expression": "12 * 49.90"}]})

    expression: str = Field(
        min_length=1,
        max_length=1000,
        description="Arithmetic such as 12 * 49.90, (3 + 4.5) / 2, 2^10, round(10/3, 2) or sqrt(2). "
        "Operators: + - * / // (floor division) % (remainder) ^ or ** (power); functions: abs, ceil, "
        "floor, round(x, digits), sqrt, exp, ln, log10, log(x, base), min, max; constants: pi, e.",
    )


class EvaluationResult(BaseModel):
    expression: str
    result: str = Field(description="The result as decimal text, e.g. 598.8.")
    value: float | None = Field(description="The result as a JSON number; null when too large for one.")
    exact: bool = Field(description="True when result is exactly the value, not rounded.")
    fraction: str | None = Field(
        description="The exact value as numerator/denominator when the result had to be rounded, e.g. 1/3."
    )


class ConversionRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"value": "10", "from_unit": "mile", "to_unit": "km"}]},
    )

    value: Annotated[
        Decimal,
        Field(
            ge=Decimal("-1e100"),
            le=Decimal("1e100"),
            description="The amount to convert, as a number or decimal text.",
        ),
    ]
    from_unit: UnitText = Field(description="Unit of value, e.g. mile, kg, degC, km/h, m^2, kWh.")
    to_unit: UnitText = Field(description="Unit to convert to; it must measure the same kind of thing.")


class ConversionResult(BaseModel):
    value: str = Field(description="The amount that was converted.")
    from_unit: str = Field(description="The source unit's full name.")
    to_unit: str = Field(description="The target unit's full name.")
    result: str = Field(description="The converted amount as decimal text (up to 24 significant digits).")
    number: float = Field(description="The converted amount as a JSON number.")


class ErrorDetail(BaseModel):
    """Every error: a message, or for invalid input FastAPI's list of problems with their location."""

    detail: str | list[dict[str, Any]]


def error_responses() -> dict[int | str, dict[str, Any]]:
    """The error answers every protected operation can give, for the spec."""
    return {
        400: {"model": ErrorDetail, "description": "The body could not be read (not UTF-8 JSON)."},
        401: {"model": ErrorDetail, "description": "Missing or wrong X-API-Key."},
        409: {
            "model": ErrorDetail,
            "description": "The Idempotency-Key is in use or was used for another request.",
        },
        413: {"model": ErrorDetail, "description": "Request body too large."},
        422: {
            "model": ErrorDetail,
            "description": "Invalid input, or no result; the detail says why and where.",
        },
    }
