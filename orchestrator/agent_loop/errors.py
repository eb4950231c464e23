"""Errors of the agent loop.

AgentLoopError
 ├── ConfigError        an operator mistake in settings (missing URL, unreadable registry)
 └── ModelStepError     the gateway could not answer a step even after retries
"""

from __future__ import annotations

__all__ = ["AgentLoopError", "ConfigError", "ModelStepError"]


class AgentLoopError(Exception):
    """Base of every error raised by the agent loop."""


class ConfigError(AgentLoopError):
    """A setting is missing or wrong; the message names it."""


class ModelStepError(AgentLoopError):
    """The model step failed after the gateway's and our own retries."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"model step {step!r} failed: {message}")
        self.step = step
