"""Errors of the notes service, each carrying the HTTP status it becomes.

    NotesError                      base; ``status_code`` and a message for the caller
     ├── NoteNotFound               404: no note has this id
     └── InvalidQuery               422: a search query with nothing to search for

The base is a ``ServiceError`` (``tools.service_kit.errors``, which also holds the
Idempotency-Key errors): one handler turns any of them into ``{"detail": message}``.
"""

from __future__ import annotations

from tools.service_kit.errors import ServiceError

__all__ = [
    "InvalidQuery",
    "NoteNotFound",
    "NotesError",
]


class NotesError(ServiceError):
    """Base of every error the notes service reports to its caller."""


class NoteNotFound(NotesError):
    status_code = 404

    def __init__(self, note_id: str) -> None:
        super().__init__(f"note {note_id!r} not found")
        self.note_id = note_id


class InvalidQuery(NotesError):
    status_code = 422
