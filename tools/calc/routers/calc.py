"""Exact arithmetic and unit conversion: the sums a model should not do in its head.

Both operations are POSTs because their input is a JSON body, but they change
nothing: calling them twice gives the same answer.
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter, Depends

from tools.service_kit.dependencies import IdempotencyKey, require_api_key

from ..arithmetic import evaluate, format_decimal
from ..schemas import (
    ConversionRequest,
    ConversionResult,
    EvaluationRequest,
    EvaluationResult,
    error_responses,
)
from ..units import convert

__all__ = ["CONVERT_DESCRIPTION", "EVALUATE_DESCRIPTION", "router"]

EVALUATE_DESCRIPTION = (
    "Evaluate arithmetic exactly (no floating-point error): use it for every sum, price, "
    "percentage or ratio instead of calculating yourself. Example: 12 * 49.90 gives 598.8. Percentages "
    "are written as fractions: 15% of 80 is 0.15 * 80. A mistake in the expression gives 422 saying what "
    "is wrong and at which character position (counting from 0)."
)
CONVERT_DESCRIPTION = (
    "Convert between units of the same kind: length (m, km, mile, ft, inch), mass (kg, "
    "lb, oz), temperature (degC, degF, K), volume (l, gallon), speed (km/h, mph), energy (J, kWh, "
    "kcal), area (m^2, acre) and more. Example: 10 mile to km gives 16.09344."
)

router = APIRouter(tags=["calc"], dependencies=[Depends(require_api_key), IdempotencyKey], responses=error_responses())


def _float(text: str) -> float | None:
    number = float(text)
    return number if abs(number) != float("inf") else None


def _plain(value: Decimal) -> str:
    """Decimal text without exponent for everyday magnitudes, trailing zeros removed."""
    if value.is_zero():
        return "0"
    if -30 <= value.adjusted() <= 30:
        text = format(value, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    return str(value.normalize())


@router.post(
    "/evaluate",
    operation_id="evaluateExpression",
    summary="Calculate an arithmetic expression exactly",
    description=EVALUATE_DESCRIPTION,
)
def evaluate_expression(body: EvaluationRequest) -> EvaluationResult:
    value = evaluate(body.expression)
    text, text_exact = format_decimal(value.number, exact=value.exact)
    rational = value.exact and not text_exact
    return EvaluationResult(
        expression=body.expression,
        result=text,
        value=_float(text),
        exact=value.exact and text_exact,
        fraction=f"{value.number.numerator}/{value.number.denominator}" if rational else None,
    )


@router.post(
    "/convert",
    operation_id="convertUnits",
    summary="Convert an amount between units",
    description=CONVERT_DESCRIPTION,
)
def convert_units(body: ConversionRequest) -> ConversionResult:
    conversion = convert(body.value, body.from_unit, body.to_unit)
    result = _plain(conversion.value)
    return ConversionResult(
        value=_plain(body.value),
        from_unit=conversion.from_unit,
        to_unit=conversion.to_unit,
        result=result,
        number=float(result),
    )
