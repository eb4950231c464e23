"""Settings of the calc service, read once from the environment (prefix ``CALC_``).

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
    """Every service's settings (``ServiceSettings``) and this one's; each is set as ``CALC_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="CALC_")

    db: Path = Path(".toolmesh/data/calc/calc.sqlite3")
    """SQLite file holding the idempotency records; its folder is created."""

    max_body_bytes: int = Field(default=16 * 1024, ge=1024)
    """Largest request body accepted; larger ones get 413 before any parsing."""


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
