"""The settings every tool service has; a service's ``config.Settings`` subclasses them.

A subclass sets its environment prefix, which also names the service, and its database file::

    class Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_prefix="NOTES_")
        db: Path = Path(".toolmesh/data/notes/notes.sqlite3")
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ServiceSettings"]


class ServiceSettings(BaseSettings):
    """Deployment settings shared by every service; each field can be set as ``<PREFIX><FIELD>``."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    db: Path
    """SQLite file holding the service's data and its idempotency records; its folder is created."""

    api_key: SecretStr | None = None
    """Key callers send in ``X-API-Key``. Unset means every protected request gets 401."""

    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    """Largest request body accepted; larger ones get 413 before any parsing."""

    log_level: str = "INFO"
    """Level of the service's JSON logs."""

    @property
    def service(self) -> str:
        """The service's name, as in ``tools.<service>``, from its prefix (``NOTES_``: ``notes``)."""
        return str(self.model_config.get("env_prefix", "")).removesuffix("_").lower()

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value
