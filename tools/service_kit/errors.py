"""The base of every error a tool service reports, and the Idempotency-Key errors.

    ServiceError                    base; ``status_code`` and a message for the caller
     ├── <Service>Error             each service's own errors (its ``errors.py``)
     └── IdempotencyError           a retried request that cannot be answered
          ├── IdempotencyMismatch   409: the key was used for a different request
          └── IdempotencyInProgress 409: the first request with the key is still running

One handler (``app.install``) turns any of them into ``{"detail": message}``.
"""

from __future__ import annotations

__all__ = ["IdempotencyError", "IdempotencyInProgress", "IdempotencyMismatch", "ServiceError"]


class ServiceError(Exception):
    """Base of every error a service reports to its caller."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IdempotencyError(ServiceError):
    status_code = 409


class IdempotencyMismatch(IdempotencyError):
    status_code = 409


class IdempotencyInProgress(IdempotencyError):
    status_code = 409
