"""Keep the host's own credentials out of its log.

The SDK's durable client sends its calls to a keyless loopback path that carries a random
per-process token, and the management URLs carry the functions key. A failing client call
raises an exception whose text may hold such a URL, and the host logs exceptions; so every
record the host's handlers write, message and traceback alike, has those secrets replaced.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from urllib.parse import quote

__all__ = ["REDACTED", "SecretFilter", "redact_logs"]

REDACTED = "[redacted]"


class SecretFilter(logging.Filter):
    """Replaces each secret (as given and percent-encoded) in a record's text before it is written."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
        self._secrets = sorted(forms, key=len, reverse=True)
        self._formatter = logging.Formatter()

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redact(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def redact_logs(secrets: Iterable[str]) -> SecretFilter:
    """Install a :class:`SecretFilter` on every handler of the root logger (where all records end)."""
    secret_filter = SecretFilter(secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(secret_filter)
    return secret_filter
