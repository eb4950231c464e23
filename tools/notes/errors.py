"""Errors of the notes service, each carrying the HTTP status it becomes.

    NotesError                      base; ``status_code`` and a message for the caller
     ├── NoteNotFound               404: no note has this id
     ├── InvalidQuery               422: a search query with nothing to search for
     └── IdempotencyError           a retried request that cannot be answered
          ├── IdempotencyMismatch   409: the key was used for a different request
          └── IdempotencyInProgress 409: the first request with the key is still running

One handler (``app_kit.py``) turns any of them into ``{"detail": message}``; it knows
the base as ``ServiceError``.
"""

from __future__ import annotations

__all__ = [
    "IdempotencyError",
    "IdempotencyInProgress",
    "IdempotencyMismatch",
    "InvalidQuery",
    "NoteNotFound",
    "NotesError",
    "ServiceError",
]


class NotesError(Exception):
    """Base of every error the notes service reports to its caller."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoteNotFound(NotesError):
    status_code = 404

    def __init__(self, note_id: str) -> None:
        super().__init__(f"note {note_id!r} not found")
        self.note_id = note_id


class InvalidQuery(NotesError):
    status_code = 422


class IdempotencyError(NotesError):
    status_code = 409


class IdempotencyMismatch(IdempotencyError):
    status_code = 409


class IdempotencyInProgress(IdempotencyError):
    status_code = 409


ServiceError = NotesError
