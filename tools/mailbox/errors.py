"""Errors of the mailbox service, each carrying the HTTP status it becomes.

    MailboxError                    base; ``status_code`` and a message for the caller
     ├── MessageNotFound            404: no message has this id
     ├── AlreadyReplied             409: the message has its reply already
     └── CallbackNotAllowed         422: callback_url is malformed or outside the allowed origins

The base is a ``ServiceError`` (``tools.service_kit.errors``, which also holds the
Idempotency-Key errors): one handler turns any of them into ``{"detail": message}``.
"""

from __future__ import annotations

from tools.service_kit.errors import ServiceError

__all__ = [
    "AlreadyReplied",
    "CallbackNotAllowed",
    "MailboxError",
    "MessageNotFound",
]


class MailboxError(ServiceError):
    """Base of every error the mailbox service reports to its caller."""


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
