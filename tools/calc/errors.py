"""Errors of the calc service, each carrying the HTTP status it becomes.

    CalcError                       base; ``status_code`` and a message for the caller
     ├── ExpressionError            422: the expression cannot be evaluated
     │    ├── ExpressionSyntaxError not valid syntax; carries the 0-based position
     │    ├── MathError             valid syntax, no real result (division by zero, sqrt(-1))
     │    └── TooLargeError         a number beyond what the service computes exactly
     ├── UnitError                  422: an unknown unit or units of different kinds
     └── IdempotencyError           a retried request that cannot be answered
          ├── IdempotencyMismatch   409: the key was used for a different request
          └── IdempotencyInProgress 409: the first request with the key is still running

One handler (``app_kit.py``) turns any of them into ``{"detail": message}``; it knows
the base as ``ServiceError``.
"""

from __future__ import annotations

__all__ = [
    "ServiceError",
    "CalcError",
    "ExpressionError",
    "ExpressionSyntaxError",
    "IdempotencyError",
    "IdempotencyInProgress",
    "IdempotencyMismatch",
    "MathError",
    "TooLargeError",
    "UnitError",
]


class CalcError(Exception):
    """Base of every error the calc service reports to its caller."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


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


class IdempotencyError(CalcError):
    status_code = 409


class IdempotencyMismatch(IdempotencyError):
    status_code = 409


class IdempotencyInProgress(IdempotencyError):
    status_code = 409


ServiceError = CalcError
