"""Settings of the issues service, read once from the environment (prefix ``ISSUES_``).

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
    """Every service's settings (``ServiceSettings``) and this one's; each is set as ``ISSUES_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="ISSUES_")

    db: Path = Path(".toolmesh/data/issues/issues.sqlite3")
    """SQLite file holding projects, issues, comments and the idempotency records; its folder is created."""

    default_project: str = Field(default="MAIN", pattern=r"^[A-Z][A-Z0-9]{1,9}$")
    """Key of the project that always exists; issues filed without a project go there."""

    default_project_name: str = "Main"
    """Name given to the default project when the service creates it."""


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use."""
    return Settings()
