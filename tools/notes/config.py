"""Settings of the notes service, read once from the environment (prefix ``NOTES_``).

Everything the service needs from its deployment lives here, so the rest of the code
takes typed values and never reads ``os.environ``. Tests build a ``Settings`` directly
and pass it to ``create_app``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import SettingsConfigDict

from tools.service_kit.settings import ServiceSettings

__all__ = ["Settings", "get_settings"]


class Settings(ServiceSettings):
    """Every service's settings (``ServiceSettings``) and this one's; each is set as ``NOTES_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NOTES_")

    db: Path = Path(".toolmesh/data/notes/notes.sqlite3")
    """SQLite file holding the notes and the idempotency records; its folder is created."""


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
