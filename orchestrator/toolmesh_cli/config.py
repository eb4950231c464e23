"""Where the CLI finds the API and its key: options win over environment, which wins over files.

The environment is read once, here, through a cached ``get_settings()``; commands receive
plain values. The key may also come from the files the local mesh writes, so that after
``toolmesh up`` no key has to be copied anywhere (and none is ever printed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from toolmesh_cli.errors import ConfigError

__all__ = [
    "DEFAULT_URL",
    "ApiTarget",
    "Settings",
    "get_settings",
    "resolve_target",
]

DEFAULT_URL = "http://127.0.0.1:7071"
"""Where the local host listens by default (the Functions host's usual port)."""


class Settings(BaseSettings):
    """Environment of the CLI (all optional)."""

    model_config = SettingsConfigDict(env_prefix="TOOLMESH_", extra="ignore")

    url: str = DEFAULT_URL
    """TOOLMESH_URL: base URL of the toolmesh API (local host or Azure Function App)."""

    functions_key: str | None = Field(default=None, repr=False)
    """TOOLMESH_FUNCTIONS_KEY: the function key sent as ``x-functions-key``."""

    state_dir: Path = Path(".toolmesh")
    """TOOLMESH_STATE_DIR: where ``toolmesh up`` keeps pids, ports, logs and keys."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The CLI's settings, read from the environment once per process."""
    return Settings()


@dataclass(frozen=True, kw_only=True)
class ApiTarget:
    """A resolved API origin and the key to use with it (never printed)."""

    url: str
    key: str | None

    def __repr__(self) -> str:
        return f"ApiTarget(url={self.url!r}, key={'***' if self.key else None})"


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--url must be an http(s) URL such as {DEFAULT_URL}, got {url!r}")
    return url.rstrip("/")


def _is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def _key_from_state(state_dir: Path) -> str | None:
    """The key the local mesh generated: its secrets file first, then the host's own key file."""
    secrets_file = state_dir / "secrets.json"
    if secrets_file.is_file():
        try:
            value = json.loads(secrets_file.read_text()).get("TOOLMESH_FUNCTIONS_KEY")
        except (OSError, ValueError, AttributeError) as exc:
            raise ConfigError(f"cannot read {secrets_file}: {exc}") from exc
        if isinstance(value, str) and value:
            return value
    for host_key in (state_dir / "data" / "host" / "functions.key", state_dir / "host" / "functions.key"):
        if host_key.is_file():
            try:
                return host_key.read_text().strip() or None
            except OSError as exc:
                raise ConfigError(f"cannot read {host_key}: {exc}") from exc
    return None


def resolve_target(*, url: str | None, key: str | None, state_dir: Path | None, settings: Settings) -> ApiTarget:
    """Combine options, environment and the mesh's files into one target."""
    resolved_url = _check_url(url or settings.url)
    resolved_key = key or settings.functions_key
    if not resolved_key and _is_loopback(resolved_url):
        # The mesh's key is only ever sent to a local host, never to a remote origin.
        resolved_key = _key_from_state(state_dir or settings.state_dir)
    return ApiTarget(url=resolved_url, key=resolved_key)
