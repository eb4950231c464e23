"""Settings of the issues service, read once from the environment (prefix ``ISSUES_``).

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
    """Deployment settings; every field can be set as ``ISSUES_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="ISSUES_", extra="ignore", frozen=True)

    db: Path = Path(".toolmesh/issues.sqlite3")
    """SQLite file holding projects, issues, comments and the idempotency records; its folder is created."""

    api_key: SecretStr | None = None
    """Key callers send in ``X-API-Key``. Unset means every protected request gets 401."""

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    """Largest request body accepted; larger ones get 413 before any parsing."""

    log_level: str = "INFO"
    """Level of the service's JSON logs."""

    default_project: str = Field(default="MAIN", pattern=r"^[A-Z][A-Z0-9]{1,9}$")
    """Key of the project that always exists; issues filed without a project go there."""

    default_project_name: str = "Main"
    """Name given to the default project when the service creates it."""

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
