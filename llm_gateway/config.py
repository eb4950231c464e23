"""Settings from the environment and the optional YAML config file, each read once.

The environment says where things are (config file, database, client keys, a default upstream);
the config file says what the gateway serves: model aliases, each mapped to one or more
deployments tried in order (fallback), the retry policy and per-key limits::

    models:
      default:
        deployments:
          - {provider: openai, base_url: "https://api.openai.com/v1", api_key_env: OPENAI_API_KEY,
             model: gpt-4o-mini, timeout: 60, price: {input_per_million: 0.15, output_per_million: 0.6}}
          - {provider: azure, endpoint: "https://res.openai.azure.com", deployment: gpt4o,
             api_version: "2024-10-21", api_key_env: AZURE_OPENAI_API_KEY}   # or entra_id: true
          - {provider: offline}
      demo:
        deployments: [{provider: scripted, script: demo-script.yaml}]   # relative to this file
    retry: {max_retries: 2, initial_backoff: 0.2, max_backoff: 8.0, max_retry_after: 30, total_timeout: 120,
            cooldown_after: 3, cooldown: 30}   # a deployment failing 3 requests in a row rests 30 s
    limits: {rpm: 600, tpm: 2000000}            # default per client key
    key_limits: {ci: {rpm: 60, tpm: 100000}}   # by managed key name
    log_prompts: false
    stream_keepalive: 15                       # seconds of silence before an SSE comment (0: never)
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from llm_gateway.errors import ConfigError

__all__ = [
    "AliasConfig",
    "DeploymentConfig",
    "GatewayConfig",
    "LimitsConfig",
    "PriceConfig",
    "RetryConfig",
    "Settings",
    "get_settings",
    "load_config",
]

DEFAULT_DB_PATH = Path(".toolmesh") / "data" / "gateway" / "gateway.sqlite3"
DEFAULT_TIMEOUT = 60.0


class Settings(BaseSettings):
    """The gateway's environment, read once per process (see ``get_settings``)."""

    model_config = SettingsConfigDict(env_prefix="TOOLMESH_GATEWAY_", extra="ignore")

    config: Path | None = None
    """YAML file with aliases, deployments, retries and limits; without it a default is derived."""
    api_keys: SecretStr = SecretStr("")
    """Comma-separated client keys accepted as ``Authorization: Bearer <key>`` (kept only as hashes)."""
    open: bool = False
    """Accept requests without a known key (as "anonymous"): only when asked for at start-up."""
    db: Path = DEFAULT_DB_PATH
    """SQLite file for the usage log and managed keys."""
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    """Largest request body taken (413 past it). Larger than a tool's 256 KB: a model step carries
    the whole conversation and the schemas of the functions it offers."""
    log_prompts: bool = False
    """Log prompt and answer contents (off: logs carry sizes and counts only)."""
    log_level: str = "INFO"
    """Level of the gateway's logs."""
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    """Without a config file: an OpenAI-compatible server to use instead of the offline provider."""
    openai_api_key: SecretStr | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    """Without a config file: the key for OpenAI (or the server in OPENAI_BASE_URL)."""
    openai_model: str = Field(default="gpt-4o-mini", validation_alias="OPENAI_MODEL")
    """Without a config file: the upstream model the default alias maps to."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PriceConfig(_Strict):
    input_per_million: float = Field(ge=0)
    output_per_million: float = Field(ge=0)


class DeploymentConfig(_Strict):
    """One place a model alias can be served from."""

    provider: Literal["openai", "azure", "offline", "scripted"]
    model: str | None = None
    """Upstream model name (openai) or deployment name (azure, also accepted as ``deployment``)."""
    deployment: str | None = None
    base_url: str | None = None
    endpoint: str | None = None
    """Azure resource URL, e.g. https://res.openai.azure.com (a ``/openai/v1`` URL needs no api_version)."""
    api_version: str | None = None
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    azure_ad_token_env: str | None = None
    entra_id: bool = False
    """Azure: get tokens from azure-identity's DefaultAzureCredential (must be installed)."""
    script: str | None = None
    """Scripted provider: the conversation file (relative paths are relative to the config file)."""
    timeout: float = Field(default=DEFAULT_TIMEOUT, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    price: PriceConfig | None = None
    """USD per million input and output tokens, to put a cost on each usage record."""
    transport: Literal["aiohttp", "httpx"] = "aiohttp"
    """HTTP transport under the openai SDK (both are the SDK's own options)."""
    name: str | None = None
    """A label for logs and usage (default: provider:model)."""

    @model_validator(mode="after")
    def _check(self) -> DeploymentConfig:
        if self.provider == "openai" and not self.base_url:
            raise ValueError("an openai deployment needs base_url")
        if self.provider == "azure" and not (self.endpoint and (self.deployment or self.model)):
            raise ValueError("an azure deployment needs endpoint and deployment")
        if self.provider == "scripted" and not self.script:
            raise ValueError("a scripted deployment needs script")
        return self

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        target = self.deployment or self.model or self.script or ""
        return f"{self.provider}:{target}" if target else self.provider


class AliasConfig(_Strict):
    deployments: list[DeploymentConfig] = Field(min_length=1)
    description: str = ""


class RetryConfig(_Strict):
    """One retry loop for all providers: the SDK's own retries are off."""

    max_retries: int = Field(default=2, ge=0, le=10)
    """Extra attempts on the same deployment before falling back to the next one."""
    initial_backoff: float = Field(default=0.2, ge=0)
    max_backoff: float = Field(default=8.0, ge=0)
    jitter: float = Field(default=0.5, ge=0, le=1)
    max_retry_after: float = Field(default=30.0, ge=0)
    """A Retry-After longer than this moves on to the next deployment instead of waiting."""
    total_timeout: float = Field(default=120.0, gt=0)
    """Bound on all attempts and waits of one request, so retries times timeouts cannot add up."""
    cooldown_after: int = Field(default=3, ge=0)
    """A deployment that failed this many requests in a row rests for ``cooldown`` seconds (0: never)."""
    cooldown: float = Field(default=30.0, ge=0)


class LimitsConfig(_Strict):
    rpm: int | None = Field(default=None, gt=0)
    tpm: int | None = Field(default=None, gt=0)


class GatewayConfig(_Strict):
    models: dict[str, AliasConfig]
    retry: RetryConfig = RetryConfig()
    limits: LimitsConfig = LimitsConfig()
    key_limits: dict[str, LimitsConfig] = Field(default_factory=dict)
    log_prompts: bool | None = None
    stream_keepalive: float = Field(default=15.0, ge=0)
    """Seconds of upstream silence after which a stream gets an SSE comment (0: never)."""
    base_dir: Path = Path(".")


def default_config(settings: Settings) -> GatewayConfig:
    """No config file: ``default`` is the OpenAI-compatible upstream if one is set, else offline."""
    if settings.openai_base_url or settings.openai_api_key:
        upstream = DeploymentConfig(
            provider="openai",
            base_url=settings.openai_base_url or "https://api.openai.com/v1",
            api_key=settings.openai_api_key,
            model=settings.openai_model,
        )
        return GatewayConfig(models={"default": AliasConfig(deployments=[upstream])})
    return GatewayConfig(models={"default": AliasConfig(deployments=[DeploymentConfig(provider="offline")])})


def load_config(settings: Settings) -> GatewayConfig:
    if settings.config is None:
        return default_config(settings)
    path = settings.config
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read gateway config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"gateway config {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"gateway config {path} must be a mapping with a 'models' key")
    try:
        return GatewayConfig.model_validate({**raw, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"gateway config {path} is invalid: {problems}") from exc
