"""Errors raised by the local durable host.

One tree, so callers can catch the whole family or one branch::

    DurableHostError
    ├── ConfigError             operator mistake: bad app dir, host.json, settings
    ├── UnsupportedFeatureError the app uses something this host does not run (entities)
    ├── ManagementError         a management API request that cannot be honoured
    │   ├── BadRequestError     malformed input (400)
    │   ├── InstanceNotFound    unknown instance id (404)
    │   ├── InstanceGone        the instance is already in a terminal state (410)
    │   └── InstanceConflict    an instance with that id is still active (409)
    └── EpisodeError            the orchestrator's reply cannot be applied (non-determinism, bad JSON)
"""

from __future__ import annotations

__all__ = [
    "BadRequestError",
    "ConfigError",
    "DurableHostError",
    "EpisodeError",
    "InstanceConflict",
    "InstanceGone",
    "InstanceNotFound",
    "ManagementError",
    "UnsupportedFeatureError",
]


class DurableHostError(Exception):
    """Base of every error raised by the local durable host."""


class ConfigError(DurableHostError):
    """The host cannot start because of how it was configured."""


class UnsupportedFeatureError(DurableHostError):
    """The function app uses a Durable Functions feature this host does not implement."""


class ManagementError(DurableHostError):
    """A management API request failed; ``status_code`` is the HTTP answer the real host gives."""

    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(ManagementError):
    """Malformed request: bad JSON, bad instance id, unknown orchestrator."""

    status_code = 400


class InstanceNotFound(ManagementError):
    """No instance has this id."""

    status_code = 404


class InstanceGone(ManagementError):
    """The instance already finished, so it cannot take events or be terminated."""

    status_code = 410


class InstanceConflict(ManagementError):
    """An instance with this id exists and has not finished."""

    status_code = 409


class EpisodeError(DurableHostError):
    """The orchestrator returned something the host cannot apply."""
