"""Host settings, read once at the edge (command line and environment).

The command line wins over the environment; the environment names are the documented
fallbacks (``TOOLMESH_FUNCTIONS_KEY``, ``TOOLMESH_HOST_DATA_DIR``); the orchestrator-session
limits are set by the environment alone (``TOOLMESH_ORCHESTRATOR_SESSIONS``,
``TOOLMESH_SESSION_IDLE_SECONDS``), as are the activity workers and the poison limit
(``TOOLMESH_ACTIVITY_WORKERS``, ``TOOLMESH_EPISODE_ATTEMPTS``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from durable_host.engine import DEFAULT_EPISODE_ATTEMPTS
from durable_host.sessions import DEFAULT_IDLE_SECONDS, DEFAULT_MAX_SESSIONS

__all__ = ["DEFAULT_ACTIVITY_CONCURRENCY", "HostSettings", "get_settings"]

DEFAULT_ACTIVITY_CONCURRENCY = 16


class HostSettings(BaseSettings):
    """Environment-level settings of the local durable host."""

    model_config = SettingsConfigDict(env_prefix="TOOLMESH_", extra="ignore")

    functions_key: str | None = None
    """Key required by FUNCTION/ADMIN routes and the management API; generated when unset."""

    host_data_dir: Path | None = None
    """Directory holding the SQLite store and the generated key file."""

    activity_concurrency: int = Field(default=DEFAULT_ACTIVITY_CONCURRENCY, ge=1, le=1024)
    """How many activities run at once."""

    orchestrator_sessions: int = Field(default=DEFAULT_MAX_SESSIONS, ge=0)
    """How many running orchestrations keep their SDK state between episodes (0: every episode
    replays the whole history)."""

    session_idle_seconds: float = Field(default=DEFAULT_IDLE_SECONDS, gt=0)
    """How long an orchestration's session is kept while nothing happens to it."""

    activity_workers: int = Field(default=0, ge=0, le=64)
    """Worker processes that run activities beside the host (0: on the host's own event loop)."""

    episode_attempts: int = Field(default=DEFAULT_EPISODE_ATTEMPTS, ge=1, le=100)
    """How many times in a row an episode the host cannot run is tried before its instance is
    marked Failed (poison handling)."""


@lru_cache(maxsize=1)
def get_settings() -> HostSettings:
    """The process-wide settings, read from the environment once."""
    return HostSettings()
