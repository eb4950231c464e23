"""Errors of the issues service, each carrying the HTTP status it becomes.

    IssuesError                     base; ``status_code`` and a message for the caller
     ├── NotFound                   404
     │    ├── ProjectNotFound       no project has this key
     │    └── IssueNotFound         no issue has this id
     ├── Conflict                   409
     │    ├── ProjectExists         a project with this key already exists
     │    └── IssueAlreadyClosed    closing an issue that is closed
     └── InvalidQuery               422: a search query with nothing to search for

The base is a ``ServiceError`` (``tools.service_kit.errors``, which also holds the
Idempotency-Key errors): one handler turns any of them into ``{"detail": message}``.
"""

from __future__ import annotations

from tools.service_kit.errors import ServiceError

__all__ = [
    "Conflict",
    "InvalidQuery",
    "IssueAlreadyClosed",
    "IssueNotFound",
    "IssuesError",
    "NotFound",
    "ProjectExists",
    "ProjectNotFound",
]


class IssuesError(ServiceError):
    """Base of every error the issues service reports to its caller."""


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
