"""Command line: ``python -m durable_host --app-dir DIR --port PORT --data-dir DIR ...``.

Reads settings once (flags, then TOOLMESH_* environment fallbacks), loads the app (an app that
cannot load ends the command with a message and exit code 2, before anything is written to
the data dir), makes sure a functions key exists (generated into ``<data-dir>/functions.key``
with mode 0600 when none is given; only the file's path is logged) and serves with uvicorn, which handles SIGTERM/SIGINT
by draining the lifespan. The durable state lives in ``<data-dir>/durable.sqlite3``.

Everything the host writes is for its owner only (umask 077: the data directory, the store, the
key file), and its log never holds the functions key or the durable client's RPC token
(``redaction.py``); uvicorn logs through the same handlers.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from durable_host.config import get_settings
from durable_host.discovery import load_app
from durable_host.errors import DurableHostError
from durable_host.http_app import HostConfig, build_app
from durable_host.redaction import redact_logs
from durable_host.store import Store

__all__ = ["main", "resolve_functions_key"]

log = logging.getLogger("durable_host")

KEY_FILE = "functions.key"
DB_FILE = "durable.sqlite3"
EVENTS_FILE = "run-events.sqlite3"


KEEP_ALIVE_SECONDS = 75
"""Seconds the server keeps an idle connection open (uvicorn's default, 5 s, is below every client's pool)."""


def resolve_functions_key(given: str | None, data_dir: Path) -> str:
    """The configured key, or the one stored in the data dir, or a new one written there (0600)."""
    if given:
        return given
    path = data_dir / KEY_FILE
    if path.is_file():
        stored = path.read_text().strip()
        if stored:
            log.info("using the functions key stored in %s", path)
            return stored
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    os.chmod(path, 0o600)
    log.info("generated a functions key; it is stored in %s", path)
    return key


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="durable_host", description="Run a Durable Functions Python app locally on SQLite."
    )
    parser.add_argument("--app-dir", required=True, type=Path, help="folder holding function_app.py and host.json")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7071)
    parser.add_argument("--data-dir", type=Path, default=None, help="durable state (env TOOLMESH_HOST_DATA_DIR)")
    parser.add_argument("--functions-key", default=None, help="key for protected routes (env TOOLMESH_FUNCTIONS_KEY)")
    parser.add_argument("--activity-concurrency", type=int, default=None)
    parser.add_argument("--log-level", default="info")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The app's tracing (agent_loop.telemetry) puts the current trace and span ids on each record.
    handler = logging.StreamHandler()
    handler.setFormatter(
        logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [trace=%(otelTraceID)s span=%(otelSpanID)s]: %(message)s",
            defaults={"otelTraceID": "0", "otelSpanID": "0"},
        )
    )
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    try:
        settings = get_settings()
    except ValidationError as exc:
        print(f"error: invalid TOOLMESH_* environment setting: {exc}", file=sys.stderr)
        return 2
    data_dir = args.data_dir or settings.host_data_dir
    if data_dir is None:
        print("error: --data-dir (or TOOLMESH_HOST_DATA_DIR) is required", file=sys.stderr)
        return 2
    concurrency = settings.activity_concurrency if args.activity_concurrency is None else args.activity_concurrency
    if concurrency < 1:
        print("error: --activity-concurrency must be at least 1", file=sys.stderr)
        return 2
    if settings.activity_workers and os.name != "posix":
        print(
            "error: TOOLMESH_ACTIVITY_WORKERS needs a POSIX system (it hands sockets to child processes)",
            file=sys.stderr,
        )
        return 2
    os.umask(0o077)
    # The app's live run events go to a file beside the host's state unless the app names a place
    # (read by the app's settings; activity worker processes inherit it).
    os.environ.setdefault("TOOLMESH_EVENTS_PATH", str(data_dir / EVENTS_FILE))
    try:
        # The app loads first: a host that cannot run it leaves the data dir untouched.
        functions = load_app(args.app_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir.chmod(0o700)
        key = resolve_functions_key(args.functions_key or settings.functions_key, data_dir)
    except DurableHostError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot use the data dir {data_dir}: {exc}", file=sys.stderr)
        return 2
    rpc_token = secrets.token_urlsafe(24)
    redact_logs([key, rpc_token])
    config = HostConfig(
        functions=functions,
        store_factory=partial(Store, data_dir / DB_FILE),
        functions_key=key,
        port=args.port,
        activity_concurrency=concurrency,
        max_sessions=settings.orchestrator_sessions,
        session_idle_seconds=settings.session_idle_seconds,
        app_dir=args.app_dir.resolve(),
        activity_workers=settings.activity_workers,
        episode_attempts=settings.episode_attempts,
        rpc_token=rpc_token,
    )
    uvicorn.run(
        build_app(config),
        host=args.host,
        port=args.port,
        log_level="warning",
        log_config=None,  # uvicorn's records go to the root handlers, which redact secrets
        lifespan="on",
        timeout_graceful_shutdown=5,
        # Longer than any client keeps an idle pooled connection (the durable client's aiohttp
        # pool: 15 s), so a request on such a connection never meets the server closing it.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    return 0
