"""Settings of the orchestrator app, read once from the environment (app settings on Azure)."""

from __future__ import annotations

import tempfile
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]

APP_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REGISTRY = APP_ROOT.parent / "specs" / "registry.yaml"
DEFAULT_AGENTS = APP_ROOT.parent / "specs" / "agents.yaml"


class Settings(BaseSettings):
    """Where the gateway and the registry are, and the loop's operating limits."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    llm_gateway_url: str = Field(default="http://127.0.0.1:8100", alias="LLM_GATEWAY_URL")
    """Base URL of the LLM gateway (without /v1)."""

    gateway_key: str = Field(default="", alias="TOOLMESH_GATEWAY_KEY")
    """Client key the orchestrator presents to the gateway; provider keys never live here."""

    registry_path: Path = Field(default=DEFAULT_REGISTRY, alias="TOOLMESH_REGISTRY")
    """The tool registry (specs/registry.yaml); a change to it is seen by the next run."""

    agents_path: Path = Field(default=DEFAULT_AGENTS, alias="TOOLMESH_AGENTS")
    """Agents and networks (specs/agents.yaml); read afresh at every run start, like the registry."""

    event_keep_seconds: int = Field(default=3600, ge=0, le=7 * 86_400, alias="TOOLMESH_EVENT_KEEP_SECONDS")
    """How long a posted outside event is kept for runs that start waiting for it later."""

    catalog_ttl_seconds: float = Field(default=5.0, ge=0, alias="TOOLMESH_CATALOG_TTL")
    """How long runs reuse the catalog read from the tools' specs (see agent_loop.catalog_source)."""

    catalog_dir: Path = Field(default=Path(tempfile.gettempdir()) / "toolmesh-catalogs", alias="TOOLMESH_CATALOG_DIR")
    """Where catalog snapshots too large to offer whole are kept, by content hash, outside run history."""

    conversation_db: Path = Field(
        default=Path(tempfile.gettempdir()) / "toolmesh-conversations.sqlite3", alias="TOOLMESH_CONVERSATION_DB"
    )
    """The SQLite file that keeps every run's whole conversation (the run's history keeps the recent part)."""

    max_pending_messages: int = Field(default=20, ge=1, le=1000, alias="TOOLMESH_MAX_PENDING_MESSAGES")
    """Messages that may wait for one run to take them; more are refused with 429 until it catches up."""

    public_url: str = Field(default="", alias="TOOLMESH_PUBLIC_URL")
    """This app's public origin, used to build callback URLs for tools; empty: taken from the request."""

    callback_secret: str = Field(default="", alias="TOOLMESH_CALLBACK_SECRET")
    """Secret that signs per-run callback URLs; without it callbacks are refused."""

    llm_timeout_seconds: float = Field(default=120.0, alias="TOOLMESH_LLM_TIMEOUT")
    """Seconds one model step may take at the gateway before it counts as failed."""
    llm_max_retries: int = Field(default=2, alias="TOOLMESH_LLM_MAX_RETRIES")
    """Retries of a model step after a transient failure, before the run ends as failed."""
    tool_max_attempts: int = Field(default=3, alias="TOOLMESH_TOOL_MAX_ATTEMPTS")
    """Attempts per tool call for retryable failures (timeouts, 429, 5xx), with backoff and jitter."""

    memory_tool: str = Field(default="notes", alias="TOOLMESH_MEMORY_TOOL")
    """The registry tool that keeps a run's memory of finished tasks."""
    memory_store_operation: str = Field(default="createNote", alias="TOOLMESH_MEMORY_STORE_OPERATION")
    """The memory tool's operation that stores a task's result."""
    memory_search_operation: str = Field(default="searchNotes", alias="TOOLMESH_MEMORY_SEARCH_OPERATION")
    """The memory tool's operation that recalls results related to a task."""

    mailbox_tool: str = Field(default="mailbox", alias="TOOLMESH_MAILBOX_TOOL")
    """The registry tool through which people's replies to a run's messages are delivered."""
    mailbox_reply_operation: str = Field(default="replyToMessage", alias="TOOLMESH_MAILBOX_REPLY_OPERATION")
    """The mailbox tool's operation that takes a reply (``POST /api/runs/{id}/replies/{call_id}``)."""

    events_url: str = Field(default="", alias="TOOLMESH_EVENTS")
    """Where runs' live events go: empty for the embedded file (one machine), ``redis://host:port/0``
    (or ``rediss://``) for Redis Streams shared by several app instances, ``off`` for none."""
    events_path: Path | None = Field(default=None, alias="TOOLMESH_EVENTS_PATH")
    """The embedded channel's SQLite file; the local host sets it to ``run-events.sqlite3`` in its data
    dir, else ``toolmesh-run-events.sqlite3`` in the temporary directory."""
    events_max_per_run: int = Field(default=10_000, ge=10, alias="TOOLMESH_EVENTS_MAX_PER_RUN")
    """Events kept per run; a watcher that falls further behind is told which ones it missed."""
    events_max_age_seconds: int = Field(default=7 * 86_400, ge=60, alias="TOOLMESH_EVENTS_MAX_AGE")
    """How long a run's events are kept after its last one."""
    events_merge_ms: float = Field(default=20.0, ge=0, le=2000, alias="TOOLMESH_EVENTS_MERGE_MS")
    """A model step's text and argument pieces that come within this long of its last published
    delta wait and go out together as one delta: fewer appends and frames per step (less CPU),
    for text that reaches watchers up to this much later. 0 publishes every piece as it comes."""
    events_keepalive_seconds: float = Field(default=15.0, gt=0, le=300, alias="TOOLMESH_EVENTS_KEEPALIVE")
    """Silence after which an event stream sends a keep-alive comment (and checks whether the run ended)."""
    events_http_streams: bool = Field(default=True, alias="TOOLMESH_EVENTS_HTTP_STREAMS")
    """Serve ``/api/runs/{id}/events`` as one open stream (an HTTP-streams function). Off where the
    Functions host does not stream (Azure and Core Tools without ``PYTHON_ENABLE_INIT_INDEXING``):
    each request then answers the events that come within ``TOOLMESH_EVENTS_WINDOW`` seconds and
    ends, and the client reconnects with ``Last-Event-ID`` as it does after a dropped connection."""
    events_window_seconds: float = Field(default=20.0, ge=1, le=200, alias="TOOLMESH_EVENTS_WINDOW")
    """Without HTTP streams: how long a request waits for a run's next events before it answers none
    (below the 230 s an Azure front end gives an HTTP response)."""
    stream_model_steps: bool = Field(default=True, alias="TOOLMESH_STREAM_MODEL_STEPS")
    """Model steps ask the gateway for a stream and publish text and tool-call deltas as they arrive."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
