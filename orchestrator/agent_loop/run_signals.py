"""What ends a run's waits early, as exceptions the loop's steps pass up untouched.

Drawn::

    RunCancelled            the cancel event won a race: the run ends with what it has
    ├── RunStopped          a person's message asked the run to stop (ends as cancelled by them)
    └── TurnAborted         a person aborted the chat turn in progress: the turn ends, the chat goes on

Every step that turns failures into messages re-raises RunCancelled, so the subclasses travel
the same way to the one place that handles each.
"""

from __future__ import annotations

__all__ = ["CANCEL_EVENT", "RunCancelled", "RunStopped", "TurnAborted"]

CANCEL_EVENT = "cancel"


class RunCancelled(Exception):
    """The cancel event won a race; the run ends with what it has."""


class RunStopped(RunCancelled):
    """A person's message asked the run to stop."""

    def __init__(self, author: str, text: str) -> None:
        super().__init__(f"stopped by {author}")
        self.author = author
        self.text = text


class TurnAborted(RunCancelled):
    """A person aborted the chat turn in progress."""

    def __init__(self, author: str) -> None:
        super().__init__(f"aborted by {author}")
        self.author = author
