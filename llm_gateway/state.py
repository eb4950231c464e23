"""Everything a running gateway holds, built once from settings at startup."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from llm_gateway.config import DeploymentConfig, GatewayConfig, Settings, load_config
from llm_gateway.db import connect
from llm_gateway.keys import KeyStore
from llm_gateway.limits import RateLimiter
from llm_gateway.providers.base import Price, Provider
from llm_gateway.providers.offline import OfflineProvider
from llm_gateway.providers.scripted import ScriptedProvider
from llm_gateway.providers.upstream import build_upstream
from llm_gateway.routing import Route, Router
from llm_gateway.usage import UsageLog

__all__ = ["GatewayState", "build_provider", "build_state"]

log = logging.getLogger("llm_gateway")


@dataclass(frozen=True, kw_only=True, slots=True)
class GatewayState:
    config: GatewayConfig
    router: Router
    keys: KeyStore
    limiter: RateLimiter
    usage: UsageLog
    log_prompts: bool

    async def aclose(self) -> None:
        await self.usage.stop()
        for route in self.router.routes.values():
            for provider in route.providers:
                await provider.aclose()


def build_provider(deployment: DeploymentConfig, base_dir: Path) -> Provider:
    provider = _provider(deployment, base_dir)
    if deployment.price is not None:
        provider.price = Price(
            input_per_million=deployment.price.input_per_million,
            output_per_million=deployment.price.output_per_million,
        )
    return provider


def _provider(deployment: DeploymentConfig, base_dir: Path) -> Provider:
    if deployment.provider == "offline":
        return OfflineProvider(label=deployment.name or "offline", timeout=deployment.timeout)
    if deployment.provider == "scripted":
        assert deployment.script is not None
        path = Path(deployment.script)
        return ScriptedProvider(
            path=path if path.is_absolute() else base_dir / path,
            label=deployment.label,
            timeout=deployment.timeout,
        )
    return build_upstream(deployment)


def build_state(settings: Settings) -> GatewayState:
    config = load_config(settings)
    routes = {
        alias: Route(
            alias=alias,
            description=alias_config.description,
            providers=tuple(build_provider(d, config.base_dir) for d in alias_config.deployments),
        )
        for alias, alias_config in config.models.items()
    }
    for route in routes.values():
        kinds = ", ".join(f"{p.kind}:{p.label}" for p in route.providers)
        if any(p.offline for p in route.providers):
            log.warning("alias %r served by the OFFLINE provider (deterministic, no network): %s", route.alias, kinds)
        else:
            log.info("alias %r -> %s", route.alias, kinds)
    env_keys = [k.strip() for k in settings.api_keys.get_secret_value().split(",") if k.strip()]
    # Its own connection: reads on the loop.
    keys = KeyStore(env_keys=env_keys, db=connect(settings.db), open_mode=settings.open)
    if keys.open:
        log.warning("TOOLMESH_GATEWAY_OPEN is set: the gateway accepts requests without a key, as 'anonymous'")
    elif not keys.configured:
        log.warning(
            "no client API keys configured: every request is refused with 401 until keys are set "
            "(TOOLMESH_GATEWAY_API_KEYS, or python -m llm_gateway.keys create) or TOOLMESH_GATEWAY_OPEN=true"
        )
    return GatewayState(
        config=config,
        router=Router(routes, config.retry),
        keys=keys,
        limiter=RateLimiter(default=config.limits, by_name=config.key_limits),
        usage=UsageLog(connect(settings.db)),  # its own connection: writes in a worker thread
        log_prompts=config.log_prompts if config.log_prompts is not None else settings.log_prompts,
    )
