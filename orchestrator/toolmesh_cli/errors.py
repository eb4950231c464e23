"""Errors of the toolmesh command line, one tree so commands can map them to exit codes.

Every command catches ``ToolmeshCliError`` at the edge and turns it into a message and an
exit code; nothing below the command layer prints or exits::

    ToolmeshCliError
     ├── ConfigError            an option or setting is unusable (bad URL, unreadable key file)
     ├── ApiConnectionError     nothing answered at the API URL, or it answered with non-JSON
     ├── ApiError               the API answered 4xx/5xx (status, message, field)
     │    └── RunNotFoundError  404 for a run, call or tool id
     └── MeshError              the local mesh could not be started, inspected or stopped
          └── ServiceStartError one service exited or never became healthy (name, log path)
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "ConfigError",
    "MeshError",
    "RunNotFoundError",
    "ServiceStartError",
    "ToolmeshCliError",
]


class ToolmeshCliError(Exception):
    """Base of every error the CLI reports to its user."""


class ConfigError(ToolmeshCliError):
    """An option, environment variable or file the CLI reads is unusable."""


class ApiConnectionError(ToolmeshCliError):
    """The API could not be reached (refused, timed out) or did not speak JSON."""


class ApiError(ToolmeshCliError):
    """The API rejected a request; ``field`` names the bad input when the API said which."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status = status
        self.message = message
        self.field = field
        where = f" (field: {field})" if field else ""
        super().__init__(f"HTTP {status}: {message}{where}")


class RunNotFoundError(ApiError):
    """The run, call or tool named in the request does not exist."""


class MeshError(ToolmeshCliError):
    """The local mesh could not be started, inspected or stopped."""


class ServiceStartError(MeshError):
    """One service of the mesh exited early or never answered its health check."""

    def __init__(self, service: str, reason: str, log_path: Path) -> None:
        self.service = service
        self.reason = reason
        self.log_path = log_path
        super().__init__(f"{service} did not start: {reason} (log: {log_path})")
