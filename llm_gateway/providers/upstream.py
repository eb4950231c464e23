"""OpenAI, Azure OpenAI and any OpenAI-compatible server (Ollama, vLLM, LM Studio) via the openai SDK.

The SDK owns the wire details (base URL, auth headers, Azure deployment paths and api-version,
Entra ID tokens); the gateway owns retries, so the SDK's are off. Answers are requested as raw
HTTP responses and passed through byte for byte: nothing is parsed into SDK models and
re-serialised, which keeps tool-call chunks intact and the added latency small.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import openai

from llm_gateway.adapters.sse import iter_events
from llm_gateway.config import DeploymentConfig
from llm_gateway.errors import ConfigError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from llm_gateway.providers.base import Answer, Provider, Usage

__all__ = ["UpstreamProvider", "build_upstream"]

_LIMITS = httpx2.Limits(max_connections=512, max_keepalive_connections=128)
_OMITTED_HEADERS: dict[str, Any] = {
    name: openai.Omit()
    for name in (
        "X-Stainless-Lang",
        "X-Stainless-Package-Version",
        "X-Stainless-OS",
        "X-Stainless-Arch",
        "X-Stainless-Runtime",
        "X-Stainless-Runtime-Version",
    )
}
"""The SDK's platform headers: they tell upstreams about the gateway's host and cost time per request."""
END_OF_BODY_SECONDS = 0.25
"""How long a stream's end (after ``[DONE]``) is waited for, to keep its connection to the upstream."""


async def _read_to_end(chunks: AsyncIterator[bytes]) -> None:
    """Read what is left of a stream after ``[DONE]`` (the end of its chunked body), if it comes soon.

    A response closed before its end is not put back into the pool: every streamed request would
    then open a new connection (a TLS handshake, with a hosted model) to the upstream.
    """
    with contextlib.suppress(Exception):
        async with asyncio.timeout(END_OF_BODY_SECONDS):
            async for _ in chunks:
                pass


def _retry_after(headers: httpx2.Headers) -> float | None:
    value = headers.get("retry-after-ms")
    if value is not None:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: treat as unknown and use backoff


def _status_error(exc: openai.APIStatusError, label: str) -> UpstreamError:
    detail = exc.body.get("error", exc.body) if isinstance(exc.body, dict) else None
    message = detail.get("message") if isinstance(detail, dict) else None
    error_type = detail.get("type") if isinstance(detail, dict) else None
    code = detail.get("code") if isinstance(detail, dict) else None
    return UpstreamError(
        f"{label} answered {exc.status_code}: {message or exc.message}",
        status_code=exc.status_code,
        retry_after=_retry_after(exc.response.headers),
        error_type=str(error_type) if isinstance(error_type, str) else "upstream_error",
        code=code if isinstance(code, str) else None,
    )


def translate(exc: Exception, label: str) -> UpstreamError:
    """An SDK or transport exception as the gateway's UpstreamError."""
    if isinstance(exc, UpstreamError):
        return exc
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return UpstreamTimeout(f"{label} timed out")
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, label)
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return UpstreamUnavailable(f"{label} unreachable: {type(exc).__name__}")
    return UpstreamUnavailable(f"{label} failed: {type(exc).__name__}: {exc}")


class UpstreamProvider(Provider):
    kind = "openai"

    def __init__(self, *, client: openai.AsyncOpenAI, model: str, label: str, timeout: float, kind: str) -> None:
        super().__init__(label=label, timeout=timeout)
        self.client = client
        self.model = model
        self.kind = kind

    def _body(self, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "model": self.model}

    async def _post(self, path: str, body: dict[str, Any], timeout: float, *, stream: bool) -> httpx2.Response:
        try:
            return await self.client.post(
                path,
                cast_to=httpx2.Response,
                content=json.dumps(body, separators=(",", ":")).encode(),
                options={"timeout": timeout, "headers": {"Content-Type": "application/json"}},
                stream=stream,
                stream_cls=None,
            )
        except Exception as exc:
            raise translate(exc, self.label) from exc

    async def _answer(self, path: str, body: dict[str, Any], timeout: float) -> Answer:
        response = await self._post(path, self._body(body), timeout, stream=False)
        content = response.content
        try:
            usage = Usage.from_openai(json.loads(content).get("usage"))
        except (ValueError, AttributeError) as exc:
            raise UpstreamUnavailable(f"{self.label} sent a body that is not a JSON object") from exc
        return Answer(body=content, usage=usage)

    async def complete(self, body: dict[str, Any], *, timeout: float) -> Answer:
        return await self._answer("/chat/completions", body, timeout)

    async def embed(self, body: dict[str, Any], *, timeout: float) -> Answer:
        return await self._answer("/embeddings", body, timeout)

    async def stream(self, body: dict[str, Any], *, timeout: float) -> AsyncIterator[bytes]:
        request = self._body(body)
        request["stream"] = True
        request["stream_options"] = {**(request.get("stream_options") or {}), "include_usage": True}
        response = await self._post("/chat/completions", request, timeout, stream=True)
        chunks = response.aiter_bytes()
        try:
            async for event in iter_events(chunks):
                yield event
            await _read_to_end(chunks)
        except UpstreamError:
            raise
        except Exception as exc:
            raise translate(exc, self.label) from exc
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self.client.close()


def _api_key(config: DeploymentConfig) -> str | None:
    if config.api_key is not None:
        return config.api_key.get_secret_value()
    if config.api_key_env:
        value = os.environ.get(config.api_key_env)
        if not value:
            raise ConfigError(f"deployment {config.label}: environment variable {config.api_key_env} is not set")
        return value
    return None


def _entra_token_provider() -> Callable[[], Any]:
    try:
        identity = importlib.import_module("azure.identity.aio")
    except ImportError as exc:
        raise ConfigError("entra_id: true needs the azure-identity package installed") from exc
    credential = identity.DefaultAzureCredential()
    provider: Callable[[], Any] = identity.get_bearer_token_provider(
        credential, "https://cognitiveservices.azure.com/.default"
    )
    return provider


def _http_client(config: DeploymentConfig) -> httpx2.AsyncClient:
    """The SDK's aiohttp transport by default: measured about 0.3 ms faster per request than httpx2's."""
    if config.transport == "aiohttp":
        client: httpx2.AsyncClient = openai.DefaultAioHttpClient(limits=_LIMITS, timeout=config.timeout)
        return client
    return httpx2.AsyncClient(limits=_LIMITS, timeout=config.timeout)


def build_upstream(config: DeploymentConfig, http_client: httpx2.AsyncClient | None = None) -> UpstreamProvider:
    """An SDK client for one deployment; keys come from the config or the environment it names."""
    client_http = http_client or _http_client(config)
    common: dict[str, Any] = {
        "max_retries": 0,
        "timeout": config.timeout,
        "default_headers": {**_OMITTED_HEADERS, **config.headers},
        "http_client": client_http,
    }
    if config.provider == "openai":
        client: openai.AsyncOpenAI = openai.AsyncOpenAI(
            base_url=config.base_url, api_key=_api_key(config) or "not-needed", **common
        )
        return UpstreamProvider(
            client=client,
            model=config.model or "default",
            label=config.label,
            timeout=config.timeout,
            kind="openai",
        )
    assert config.endpoint is not None
    deployment = config.deployment or config.model or ""
    if config.endpoint.rstrip("/").endswith("/openai/v1"):
        client = openai.AsyncOpenAI(base_url=config.endpoint, api_key=_api_key(config) or "", **common)
        return UpstreamProvider(
            client=client, model=deployment, label=config.label, timeout=config.timeout, kind="azure"
        )
    if not config.api_version:
        raise ConfigError(f"deployment {config.label}: azure needs api_version (or a /openai/v1 endpoint)")
    auth: dict[str, Any] = {}
    if config.entra_id:
        auth["azure_ad_token_provider"] = _entra_token_provider()
    elif config.azure_ad_token_env:
        token = os.environ.get(config.azure_ad_token_env)
        if not token:
            raise ConfigError(f"deployment {config.label}: {config.azure_ad_token_env} is not set")
        auth["azure_ad_token"] = token
    else:
        key = _api_key(config)
        if not key:
            raise ConfigError(f"deployment {config.label}: azure needs api_key, api_key_env or entra_id")
        auth["api_key"] = key
    client = openai.AsyncAzureOpenAI(
        azure_endpoint=config.endpoint,
        azure_deployment=deployment,
        api_version=config.api_version,
        **auth,
        **common,
    )
    return UpstreamProvider(client=client, model=deployment, label=config.label, timeout=config.timeout, kind="azure")
