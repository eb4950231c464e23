"""Errors of the mailbox service, each carrying the HTTP status it becomes.

    MailboxError                    base; ``status_code`` and a message for the caller
     ├── MessageNotFound            404: no message has this id
     ├── AlreadyReplied             409: the message has its reply already
     ├── CallbackNotAllowed         422: callback_url is malformed or outside the allowed origins
     └── IdempotencyError           a retried request that cannot be answered
          ├── IdempotencyMismatch   409: the key was used for a different request
          └── IdempotencyInProgress 409: the first request with the key is still running

One handler (``app_kit.py``) turns any of them into ``{"detail": message}``; it knows
the base as ``ServiceError``.
"""

from __future__ import annotations

__all__ = [
    "ServiceError",
    "AlreadyReplied",
    "CallbackNotAllowed",
    "IdempotencyError",
    "IdempotencyInProgress",
    "IdempotencyMismatch",
    "MailboxError",
    "MessageNotFound",
]


class MailboxError(Exception):
    """Base of every error the mailbox service reports to its caller."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MessageNotFound(MailboxError):
    status_code = 404

    def __init__(self, message_id: str) -> None:
        super().__init__(f"message {message_id!r} not found")
        self.message_id = message_id


class AlreadyReplied(MailboxError):
    status_code = 409

    def __init__(self, message_id: str) -> None:
        super().__init__(f"message {message_id!r} already has a reply")
        self.message_id = message_id


class CallbackNotAllowed(MailboxError):
    status_code = 422


class IdempotencyError(MailboxError):
    status_code = 409


class IdempotencyMismatch(IdempotencyError):
    status_code = 409


class IdempotencyInProgress(IdempotencyError):
    status_code = 409


ServiceError = MailboxError
