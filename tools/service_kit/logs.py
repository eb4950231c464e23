"""Structured JSON logs: one object per line, never a header or a body.

Requests are logged by method, path, status and duration only, so API keys, request
contents and idempotency keys cannot leak into the logs. A service's modules log through
``logging.getLogger(__name__)``: their loggers sit under ``tools.<service>``, which
``configure_logging`` gives the JSON handler.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

__all__ = ["JsonFormatter", "configure_logging", "service_logger"]

_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


def service_logger(service: str) -> logging.Logger:
    """The logger above every module of ``tools.<service>``."""
    return logging.getLogger(f"tools.{service}")


class JsonFormatter(logging.Formatter):
    """Formats a record and its ``extra=`` fields as a single JSON line naming the service."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRS and not name.startswith("_"):
                payload[name] = value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(service: str, level: str) -> None:
    """Send the service's logs, and uvicorn's, to stderr as JSON lines (idempotent).

    uvicorn's own access log is switched off: ``AccessLogMiddleware`` writes one
    structured line per request instead, without the query string.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    logger = service_logger(service)
    for name in (logger.name, "uvicorn", "uvicorn.error"):
        target = logging.getLogger(name)
        target.handlers = [handler]
        target.propagate = False
    logger.setLevel(level.upper())
    logging.getLogger("uvicorn.access").disabled = True
