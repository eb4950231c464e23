"""Errors of the calc service, each carrying the HTTP status it becomes.

    CalcError                       base; ``status_code`` and a message for the caller
     ├── ExpressionError            422: the expression cannot be evaluated
     │    ├── ExpressionSyntaxError not valid syntax; carries the 0-based position
     │    ├── MathError             valid syntax, no real result (division by zero, sqrt(-1))
     │    └── TooLargeError         a number beyond what the service computes exactly
     └── UnitError                  422: an unknown unit or units of different kinds

The base is a ``ServiceError`` (``tools.service_kit.errors``, which also holds the
Idempotency-Key errors): one handler turns any of them into ``{"detail": message}``.
"""

from __future__ import annotations

from tools.service_kit.errors import ServiceError

__all__ = [
    "CalcError",
    "ExpressionError",
    "ExpressionSyntaxError",
    "MathError",
    "TooLargeError",
    "UnitError",
]


class CalcError(ServiceError):
    """Base of every error the calc service reports to its caller."""


class ExpressionError(CalcError):
    status_code = 422


class ExpressionSyntaxError(ExpressionError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.position = position


class MathError(ExpressionError):
    pass


class TooLargeError(ExpressionError):
    pass


class UnitError(CalcError):
    status_code = 422
