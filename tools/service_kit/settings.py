"""The settings every tool service has; a service's ``config.Settings`` subclasses them.

A subclass names its service and sets its environment prefix and database file::

    class Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="NOTES_", extra="ignore", frozen=True)
        service: ClassVar[str] = "notes"
        db: Path = Path(".toolmesh/notes.sqlite3")
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings):
    """Deployment settings shared by every service; each field can be set as ``<PREFIX><FIELD>``."""

    service: ClassVar[str]
    """The service's name, as in ``tools.<service>``: its logger and its log lines' ``service``."""

    db: Path
    """SQLite file holding the service's data and its idempotency records; its folder is created."""

    api_key: SecretStr | None = None
    """Key callers send in ``X-API-Key``. Unset means every protected request gets 401."""

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    """Largest request body accepted; larger ones get 413 before any parsing."""

    log_level: str = "INFO"
    """Level of the service's JSON logs."""

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
