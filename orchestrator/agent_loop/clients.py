"""Process-wide HTTP clients for activities, one per event loop.

Activities run many times per second; creating a client per call would throw away pooled
connections. A client is bound to the loop it was created on, hence one per loop.
"""

from __future__ import annotations

import asyncio

import httpx
from openai import AsyncOpenAI

from .settings import Settings

__all__ = ["gateway_client", "tool_client"]

_tool_clients: dict[int, httpx.AsyncClient] = {}
_gateway_clients: dict[int, AsyncOpenAI] = {}

DEFAULT_TOOL_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
TOOL_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50)


def _loop_key() -> int:
    return id(asyncio.get_running_loop())


def tool_client() -> httpx.AsyncClient:
    key = _loop_key()
    client = _tool_clients.get(key)
    if client is None or client.is_closed:
        # Redirects are followed by the engine itself, which refuses any that leave the tool's host.
        client = httpx.AsyncClient(timeout=DEFAULT_TOOL_TIMEOUT, limits=TOOL_LIMITS, follow_redirects=False)
        _tool_clients[key] = client
    return client


def gateway_client(settings: Settings) -> AsyncOpenAI:
    key = _loop_key()
    client = _gateway_clients.get(key)
    if client is None:
        client = AsyncOpenAI(
            base_url=settings.llm_gateway_url.rstrip("/") + "/v1",
            api_key=settings.gateway_key or "missing-key",
            timeout=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
        )
        _gateway_clients[key] = client
    return client
