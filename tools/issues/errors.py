"""Errors of the issues service, each carrying the HTTP status it becomes.

    IssuesError                     base; ``status_code`` and a message for the caller
     ├── NotFound                   404
     │    ├── ProjectNotFound       no project has this key
     │    └── IssueNotFound         no issue has this id
     ├── Conflict                   409
     │    ├── ProjectExists         a project with this key already exists
     │    └── IssueAlreadyClosed    closing an issue that is closed
     ├── InvalidQuery               422: a search query with nothing to search for
     └── IdempotencyError           a retried request that cannot be answered
          ├── IdempotencyMismatch   409: the key was used for a different request
          └── IdempotencyInProgress 409: the first request with the key is still running

One handler (``app_kit.py``) turns any of them into ``{"detail": message}``; it knows
the base as ``ServiceError``.
"""

from __future__ import annotations

__all__ = [
    "ServiceError",
    "Conflict",
    "IdempotencyError",
    "IdempotencyInProgress",
    "IdempotencyMismatch",
    "InvalidQuery",
    "IssueAlreadyClosed",
    "IssueNotFound",
    "IssuesError",
    "NotFound",
    "ProjectExists",
    "ProjectNotFound",
]


class IssuesError(Exception):
    """Base of every error the issues service reports to its caller."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(IssuesError):
    status_code = 404


class ProjectNotFound(NotFound):
    def __init__(self, key: str) -> None:
        super().__init__(f"project {key!r} not found; listProjects shows the existing ones")
        self.key = key


class IssueNotFound(NotFound):
    def __init__(self, issue_id: str) -> None:
        super().__init__(f"issue {issue_id!r} not found")
        self.issue_id = issue_id


class Conflict(IssuesError):
    status_code = 409


class ProjectExists(Conflict):
    def __init__(self, key: str) -> None:
        super().__init__(f"a project with key {key!r} already exists")
        self.key = key


class IssueAlreadyClosed(Conflict):
    def __init__(self, issue_id: str, state: str) -> None:
        super().__init__(f"issue {issue_id!r} is already closed (state {state})")
        self.issue_id = issue_id


class InvalidQuery(IssuesError):
    status_code = 422


class IdempotencyError(IssuesError):
    status_code = 409


class IdempotencyMismatch(IdempotencyError):
    status_code = 409


class IdempotencyInProgress(IdempotencyError):
    status_code = 409


ServiceError = IssuesError
