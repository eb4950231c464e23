"""Settings of the mailbox service, read once from the environment (prefix ``MAILBOX_``).

Everything the service needs from its deployment lives here, so the rest of the code
takes typed values and never reads ``os.environ``. Tests build a ``Settings`` directly
and pass it to ``create_app``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tools.service_kit.settings import ServiceSettings

__all__ = ["Settings", "get_settings"]


class Settings(ServiceSettings):
    """Every service's settings (``ServiceSettings``) and this one's; each is set as ``MAILBOX_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="MAILBOX_")

    db: Path = Path(".toolmesh/data/mailbox/mailbox.sqlite3")
    """SQLite file holding messages, pending reply deliveries and idempotency records."""

    callback_allowed_origins: str = "http://127.0.0.1,http://localhost"
    """Comma-separated origins a callback_url may point at. An entry without a port
    allows any port of that scheme and host; anything else is refused (no SSRF)."""

    delivery_initial_backoff: float = Field(default=1.0, gt=0)
    """Seconds before the first retry of a failed reply delivery; doubles per attempt."""

    delivery_max_backoff: float = Field(default=300.0, gt=0)
    """Longest wait between two delivery attempts, in seconds."""

    delivery_timeout: float = Field(default=10.0, gt=0)
    """Seconds a callback receiver has to answer one delivery attempt."""


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
