"""Process-wide HTTP clients for activities, one per event loop.

Activities run many times per second; creating a client per call would throw away pooled
connections. A client is bound to the loop it was created on, hence one per loop.
"""

from __future__ import annotations

import asyncio

import aiohttp
import httpx

__all__ = ["gateway_session", "tool_client"]

_tool_clients: dict[int, httpx.AsyncClient] = {}
_gateway_sessions: dict[int, aiohttp.ClientSession] = {}

DEFAULT_TOOL_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
TOOL_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=50)
# Model steps wait seconds each, so many are in flight at once: allow a connection per step.
GATEWAY_CONNECTIONS = 1000


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


def gateway_session() -> aiohttp.ClientSession:
    """The pooled session for model steps (timeouts are set per request from the settings)."""
    key = _loop_key()
    session = _gateway_sessions.get(key)
    if session is None or session.closed:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=GATEWAY_CONNECTIONS))
        _gateway_sessions[key] = session
    return session
