"""Errors of the agent loop, and what of an error a run's status and report may show.

AgentLoopError
 ├── ConfigError        an operator mistake in settings (missing URL, unreadable registry)
 └── ModelStepError     the gateway could not answer a step even after retries
      └── DependencyAway the gateway was away (no connection, timeout, 408/429/503/504): try later
"""

from __future__ import annotations

import re

__all__ = ["AgentLoopError", "ConfigError", "DependencyAway", "ModelStepError", "failure_message"]

_ACTIVITY_PREFIX = re.compile(r"^(?:Activity|Orchestrator) function '[^']*' failed: ")
_DETAILS = re.compile(r" \n |\n\s*(?:Traceback \(most recent call last\)|Stack:)")
MAX_FAILURE_CHARS = 500


class AgentLoopError(Exception):
    """Base of every error raised by the agent loop."""


class ConfigError(AgentLoopError):
    """A setting is missing or wrong; the message names it."""


class ModelStepError(AgentLoopError):
    """The model step failed after the gateway's and our own retries."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"model step {step!r} failed: {message}")
        self.step = step


class DependencyAway(ModelStepError):
    """The gateway did not take the step through the quick retries, in a way a later call may fix."""


def failure_message(error: BaseException | str) -> str:
    """The message of a failure without its traceback, for run status and reports.

    The Durable SDK hands the orchestrator a failed activity as the host's reason, then
    " \n ", then details holding the traceback, with server file paths; the traceback belongs
    in the host's log. So the text is cut before the details (and before any traceback or
    "Stack:" section a host puts into the reason), the host's "Activity function '...' failed:"
    prefix goes, and what is left becomes one line.
    """
    text = _DETAILS.split(str(error), maxsplit=1)[0]
    message = " ".join(_ACTIVITY_PREFIX.sub("", text.strip(), count=1).split()) or type(error).__name__
    return message if len(message) <= MAX_FAILURE_CHARS else message[: MAX_FAILURE_CHARS - 1] + "…"
