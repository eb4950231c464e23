"""Errors raised by the local durable host.

One tree, so callers can catch the whole family or one branch::

    DurableHostError
    ├── ConfigError                 operator mistake: bad app dir, host.json, settings
    ├── UnsupportedFeatureError     the app uses something this host does not run (entities)
    ├── ManagementError             a management API request that cannot be honoured
    │   ├── BadRequestError         the real host's ArgumentException: bad id, unknown orchestrator (400)
    │   │   ├── InvalidJsonError    a body that is not JSON (400 "Invalid JSON content")
    │   │   └── UnsupportedContent  an event body that is not application/json (400)
    │   ├── InstanceNotFound        unknown instance id (404, no body)
    │   ├── InstanceGone            the instance is already in a terminal state (410, no body)
    │   └── InstanceAlreadyExists   start with the id of an active instance (500, as DTFx answers)
    └── EpisodeError                the orchestrator's reply cannot be applied (non-determinism, bad JSON)

A ManagementError knows how the real host's ``HttpApiHandler`` renders it: ``summary`` is the
body's ``Message`` (None: no body at all) and ``exception_type`` the .NET exception whose
message, type and (null) stack trace the body carries (None: ``Message`` alone).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "BadRequestError",
    "ConfigError",
    "DurableHostError",
    "EpisodeError",
    "InstanceAlreadyExists",
    "InstanceGone",
    "InstanceNotFound",
    "InvalidJsonError",
    "ManagementError",
    "UnsupportedContent",
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

    status_code: ClassVar[int] = 400
    default_summary: ClassVar[str | None] = None
    exception_type: ClassVar[str | None] = None

    def __init__(self, message: str, *, summary: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.summary = summary if summary is not None else self.default_summary


class BadRequestError(ManagementError):
    """Malformed request: bad instance id, unknown orchestrator, bad filter (an ArgumentException)."""

    status_code = 400
    default_summary = "One or more of the arguments submitted is incorrect"
    exception_type: ClassVar[str | None] = "System.ArgumentException"


class InvalidJsonError(BadRequestError):
    """A start or event body that does not parse as JSON."""

    default_summary = "Invalid JSON content"
    exception_type = "Newtonsoft.Json.JsonReaderException"


class UnsupportedContent(BadRequestError):
    """An event whose Content-Type is not application/json; the body is ``Message`` alone."""

    default_summary = "Only application/json request content is supported"
    exception_type = None


class InstanceNotFound(ManagementError):
    """No instance has this id."""

    status_code = 404


class InstanceGone(ManagementError):
    """The instance already finished, so it cannot take events or be terminated."""

    status_code = 410


class InstanceAlreadyExists(ManagementError):
    """An instance with this id exists and has not finished.

    DTFx raises OrchestrationAlreadyExistsException, which is no ArgumentException, so the
    real host's generic handler answers 500.
    """

    status_code = 500
    default_summary = "Something went wrong while processing your request"
    exception_type = "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException"


class EpisodeError(DurableHostError):
    """The orchestrator returned something the host cannot apply."""
