"""Settings of the mailbox service, read once from the environment (prefix ``MAILBOX_``).

Everything the service needs from its deployment lives here, so the rest of the code
takes typed values and never reads ``os.environ``. Tests build a ``Settings`` directly
and pass it to ``create_app``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "get_settings"]


class Settings(BaseSettings):
    """Deployment settings; every field can be set as ``MAILBOX_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="MAILBOX_", extra="ignore", frozen=True)

    db: Path = Path(".toolmesh/mailbox.sqlite3")
    """SQLite file holding messages, pending reply deliveries and idempotency records."""

    api_key: SecretStr | None = None
    """Key callers send in ``X-API-Key``. Unset means every protected request gets 401."""

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    """Largest request body accepted; larger ones get 413 before any parsing."""

    log_level: str = "INFO"
    """Level of the service's JSON logs."""

    callback_allowed_origins: str = "http://127.0.0.1,http://localhost"
    """Comma-separated origins a callback_url may point at. An entry without a port
    allows any port of that scheme and host; anything else is refused (no SSRF)."""

    delivery_initial_backoff: float = Field(default=1.0, gt=0)
    """Seconds before the first retry of a failed reply delivery; doubles per attempt."""

    delivery_max_backoff: float = Field(default=300.0, gt=0)
    """Longest wait between two delivery attempts, in seconds."""

    delivery_timeout: float = Field(default=10.0, gt=0)
    """Seconds a callback receiver has to answer one delivery attempt."""

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
