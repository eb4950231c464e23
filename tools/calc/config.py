"""Settings of the calc service, read once from the environment (prefix ``CALC_``).

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
    """Deployment settings; every field can be set as ``CALC_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="CALC_", extra="ignore", frozen=True)

    db: Path = Path(".toolmesh/calc.sqlite3")
    """SQLite file holding the idempotency records; its folder is created."""

    api_key: SecretStr | None = None
    """Key callers send in ``X-API-Key``. Unset means every protected request gets 401."""

    max_body_bytes: int = Field(default=16 * 1024, ge=1024)
    """Largest request body accepted; larger ones get 413 before any parsing."""

    log_level: str = "INFO"
    """Level of the service's JSON logs."""

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
