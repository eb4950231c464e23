"""Structured logs: one JSON object per line, written in batches by a background thread.

Request handlers only append records to a list (no lock, no thread wake-up per record); a
writer thread drains the list every 100 ms, formats and writes. A slow stderr therefore never
stalls a request, and logging costs the event loop about a microsecond. Prompt and answer
contents never appear unless ``log_prompts`` is on.
"""

from __future__ import annotations

import atexit
import json
import logging
import sys
import threading
import time
from typing import Any, TextIO

__all__ = ["BatchingHandler", "JsonFormatter", "configure_logging"]

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}
_FLUSH_INTERVAL = 0.1
_handler: BatchingHandler | None = None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class BatchingHandler(logging.Handler):
    """Collects records and writes them from a daemon thread in batches."""

    def __init__(self, stream: TextIO, interval: float = _FLUSH_INTERVAL) -> None:
        super().__init__()
        self.stream = stream
        self.interval = interval
        self._records: list[logging.LogRecord] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def handle(self, record: logging.LogRecord) -> bool:
        """Skip Handler's lock: list.append is atomic, and filtering is not used here."""
        self._records.append(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self._records.append(record)

    def flush(self) -> None:
        records, self._records = self._records, []
        if not records:
            return
        lines = []
        for record in records:
            try:
                lines.append(self.format(record))
            except Exception:  # noqa: BLE001 - a bad record must not stop the writer
                lines.append(json.dumps({"level": "error", "msg": "unformattable log record", "logger": record.name}))
        try:
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self.flush()
        super().close()


def configure_logging(level: str = "INFO") -> None:
    """Route the gateway's loggers to stderr as JSON lines (idempotent)."""
    global _handler
    logger = logging.getLogger("llm_gateway")
    logger.setLevel(level.upper())
    logger.propagate = False
    if _handler is not None:
        return
    _handler = BatchingHandler(sys.stderr)
    _handler.setFormatter(JsonFormatter())
    atexit.register(_handler.close)
    logger.handlers = [_handler]
