"""Exact evaluation of a parsed expression with rational numbers.

Every number is a ``Fraction``, so ``12 * 49.90`` is exactly 598.8 and ``0.1 + 0.2``
exactly 0.3. Only functions with irrational results (non-square roots, logarithms,
``exp``, ``pi``) fall back to 50-digit decimals, and the result then says it is not
exact. Sizes are bounded before they are computed, so ``9^9^9`` is a clear 422
instead of a request that never ends.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from .errors import ExpressionError, MathError, TooLargeError
from .parser import BinaryOp, Call, Name, Node, Number, UnaryOp, parse

__all__ = ["FUNCTIONS", "Value", "evaluate", "format_decimal"]

MAX_BITS = 12_000
"""Largest numerator or denominator, in bits (about 3,600 decimal digits)."""
MAX_LITERAL_EXPONENT = 1_000
PRECISION = 50
"""Significant digits of inexact intermediate results."""


@dataclass(frozen=True, kw_only=True)
class Value:
    number: Fraction
    exact: bool


def _bounded(number: Fraction) -> Fraction:
    if max(number.numerator.bit_length(), number.denominator.bit_length()) > MAX_BITS:
        raise TooLargeError("a number in the calculation has more than about 3,600 digits")
    return number


def _decimal(number: Fraction) -> Decimal:
    return Decimal(number.numerator) / Decimal(number.denominator)


def _inexact(compute: Callable[[], Decimal]) -> Value:
    with localcontext() as ctx:
        ctx.prec = PRECISION
        return Value(number=_bounded(Fraction(compute())), exact=False)


def _literal(node: Number) -> Value:
    mantissa, _, exponent = node.text.lower().partition("e")
    if exponent and abs(int(exponent)) > MAX_LITERAL_EXPONENT:
        raise TooLargeError(f"the exponent of {node.text} is beyond ±{MAX_LITERAL_EXPONENT}")
    return Value(number=_bounded(Fraction(node.text)), exact=True)


_CONSTANTS: dict[str, Callable[[], Value]] = {
    "pi": lambda: _inexact(lambda: Decimal("3.14159265358979323846264338327950288419716939937510")),
    "e": lambda: _inexact(lambda: Decimal(1).exp()),
}


def _integer_root(x: int, q: int) -> int | None:
    """The integer r with r**q == x, if there is one (x >= 0)."""
    if x < 2:
        return x
    if x.bit_length() > 1000:
        return None
    guess = int(round(x ** (1.0 / q)))
    for candidate in (guess - 1, guess, guess + 1):
        if candidate >= 0 and candidate**q == x:
            return candidate
    return None


def _power(base: Value, exponent: Value, position: int) -> Value:
    a, b = base.number, exponent.number
    exact = base.exact and exponent.exact
    if b.denominator == 1:
        n = b.numerator
        if a == 0 and n < 0:
            raise MathError(f"division by zero (0 to a negative power) at position {position}")
        if a.denominator == 1 and abs(a.numerator) <= 1:  # 0, 1 and -1 stay small for any exponent
            small = 1 if n == 0 or a == 1 else (0 if a == 0 else (-1) ** (n % 2))
            return Value(number=Fraction(small), exact=exact)
        if max(a.numerator.bit_length(), a.denominator.bit_length()) * abs(n) > MAX_BITS:
            raise TooLargeError(f"the power at position {position} has more than about 3,600 digits")
        return Value(number=a**n, exact=exact)
    if a < 0:
        raise MathError(f"a negative number to a fractional power has no real value (position {position})")
    if a == 0:
        if b < 0:
            raise MathError(f"division by zero (0 to a negative power) at position {position}")
        return Value(number=Fraction(0), exact=exact)
    if b.denominator <= 64 and abs(b.numerator) <= 4096:
        num, den = _integer_root(a.numerator, b.denominator), _integer_root(a.denominator, b.denominator)
        if num is not None and den is not None:
            return _power(
                Value(number=Fraction(num, den), exact=exact),
                Value(number=Fraction(b.numerator), exact=True),
                position,
            )
    if abs(float(b) * math.log10(float(a))) > 3_000:
        raise TooLargeError(f"the power at position {position} has more than about 3,000 digits")
    return _inexact(lambda: (_decimal(b) * _decimal(a).ln()).exp())


def _round(x: Fraction, digits: int) -> Fraction:
    """Round half away from zero, as people expect for money (2.675 -> 2.68)."""
    scale = Fraction(10) ** digits
    sign = -1 if x < 0 else 1
    return sign * Fraction(math.floor(abs(x) * scale + Fraction(1, 2))) / scale


def _positive(name: str, x: Fraction, position: int) -> Decimal:
    if x <= 0:
        raise MathError(f"{name} needs a positive number (position {position})")
    return _decimal(x)


def _call(node: Call, args: list[Value]) -> Value:
    name, position = node.name, node.position
    arity = {
        "abs": (1, 1),
        "floor": (1, 1),
        "ceil": (1, 1),
        "sqrt": (1, 1),
        "ln": (1, 1),
        "log10": (1, 1),
        "exp": (1, 1),
        "round": (1, 2),
        "log": (1, 2),
        "min": (1, 100),
        "max": (1, 100),
    }
    if name not in arity:
        raise ExpressionError(f"unknown function {name!r} at position {position}; known: {', '.join(FUNCTIONS)}")
    low, high = arity[name]
    if not low <= len(args) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise ExpressionError(f"{name} takes {expected} argument(s), got {len(args)} (position {position})")
    exact = all(a.exact for a in args)
    x = args[0].number
    if name == "abs":
        return Value(number=abs(x), exact=exact)
    if name in ("floor", "ceil"):
        return Value(number=Fraction(math.floor(x) if name == "floor" else math.ceil(x)), exact=exact)
    if name in ("min", "max"):
        pick = min if name == "min" else max
        return Value(number=pick(a.number for a in args), exact=exact)
    if name == "round":
        digits = args[1].number if len(args) == 2 else Fraction(0)
        if digits.denominator != 1 or abs(digits) > 100:
            raise ExpressionError(f"round's digits must be a whole number from -100 to 100 (position {position})")
        return Value(number=_round(x, int(digits)), exact=exact)
    if name == "sqrt":
        if x < 0:
            raise MathError(f"the square root of a negative number has no real value (position {position})")
        return _power(args[0], Value(number=Fraction(1, 2), exact=True), position)
    if name == "exp":
        if x > 6_000:
            raise TooLargeError(f"exp of more than 6000 is too large (position {position})")
        return _inexact(lambda: _decimal(x).exp())
    if name == "ln":
        return _inexact(lambda: _positive("ln", x, position).ln())
    if name == "log10" or (name == "log" and len(args) == 1):
        return _inexact(lambda: _positive(name, x, position).log10())
    base = _positive("log's base", args[1].number, position)
    if base == 1:
        raise MathError(f"log with base 1 is undefined (position {position})")
    return _inexact(lambda: _positive("log", x, position).ln() / base.ln())


FUNCTIONS = ("abs", "ceil", "exp", "floor", "ln", "log", "log10", "max", "min", "round", "sqrt")


def _evaluate(node: Node) -> Value:
    if isinstance(node, Number):
        return _literal(node)
    if isinstance(node, Name):
        if node.name not in _CONSTANTS:
            raise ExpressionError(
                f"unknown name {node.name!r} at position {node.position}; constants are {', '.join(_CONSTANTS)}"
            )
        return _CONSTANTS[node.name]()
    if isinstance(node, UnaryOp):
        operand = _evaluate(node.operand)
        return operand if node.op == "+" else Value(number=-operand.number, exact=operand.exact)
    if isinstance(node, Call):
        return _call(node, [_evaluate(arg) for arg in node.args])
    left, right = _evaluate(node.left), _evaluate(node.right)
    return _binary(node, left, right)


def _binary(node: BinaryOp, left: Value, right: Value) -> Value:
    a, b, exact = left.number, right.number, left.exact and right.exact
    if node.op == "^":
        return _power(left, right, node.position)
    if node.op in ("/", "//", "%") and b == 0:
        raise MathError(f"division by zero at position {node.position}")
    results: dict[str, Callable[[], Fraction]] = {
        "+": lambda: a + b,
        "-": lambda: a - b,
        "*": lambda: a * b,
        "/": lambda: a / b,
        "//": lambda: Fraction(math.floor(a / b)),
        "%": lambda: a - b * math.floor(a / b),
    }
    return Value(number=_bounded(results[node.op]()), exact=exact)


def evaluate(expression: str) -> Value:
    """Parse and evaluate ``expression`` exactly; raise an ExpressionError saying what is wrong."""
    return _evaluate(parse(expression))


def format_decimal(number: Fraction, *, exact: bool = True, significant: int = 30) -> tuple[str, bool]:
    """The number as plain decimal text, and whether that text is exactly the number.

    An exact fraction whose denominator has only the factors 2 and 5 has a finite
    decimal expansion and is written in full; any other number, and any approximation,
    is rounded to ``significant`` digits.
    """
    den = number.denominator if exact else 3
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den == 1:
        places = max(twos, fives)
        scaled = abs(number.numerator) * 10**places // number.denominator
        digits = str(scaled).rjust(places + 1, "0")
        text = digits[: len(digits) - places] + ("." + digits[len(digits) - places :] if places else "")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return ("-" if number < 0 else "") + text, True
    with localcontext() as ctx:
        ctx.prec = significant
        text = format(_decimal(number), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text, False
