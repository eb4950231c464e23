"""Process-wide HTTP clients for activities, one per event loop (one in all for spec reads).

Activities run many times per second; creating a client per call would throw away pooled
connections. An async client is bound to the loop it was created on, hence one per loop; specs
are read by sync activities on worker threads, which share one thread-safe client.

No client keeps cookies: a pooled session serves every run and every tool, so a cookie one
tool sets would otherwise be sent on other runs' calls and to other tools on the same host.
"""

from __future__ import annotations

import asyncio
import threading
from http.cookiejar import CookieJar, DefaultCookiePolicy

import aiohttp
import httpx

from .telemetry import http_trace_configs

__all__ = ["gateway_session", "spec_client", "tool_client"]

_tool_sessions: dict[int, aiohttp.ClientSession] = {}
_gateway_sessions: dict[int, aiohttp.ClientSession] = {}

# Tool calls and memory calls of hundreds of runs can be in flight together.
TOOL_CONNECTIONS = 1000
# Model steps wait seconds each, so many are in flight at once: allow a connection per step.
GATEWAY_CONNECTIONS = 1000
SPEC_FETCH_TIMEOUT = httpx.Timeout(30.0, connect=5.0)

_spec_http: httpx.Client | None = None
_spec_http_lock = threading.Lock()


def _loop_session(sessions: dict[int, aiohttp.ClientSession], limit: int) -> aiohttp.ClientSession:
    """The running loop's session from ``sessions``, made (or remade, once closed) on first use."""
    key = id(asyncio.get_running_loop())
    session = sessions.get(key)
    if session is None or session.closed:
        # The trace configs send the run's trace context to the gateway and the tools.
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=limit),
            cookie_jar=aiohttp.DummyCookieJar(),
            trace_configs=http_trace_configs(),
        )
        sessions[key] = session
    return session


def tool_client() -> aiohttp.ClientSession:
    """The pooled session for tool calls (timeouts are set per call from the registry).

    Redirects are followed by the engine itself, which refuses any that leave the tool's host.
    """
    return _loop_session(_tool_sessions, TOOL_CONNECTIONS)


def gateway_session() -> aiohttp.ClientSession:
    """The pooled session for model steps (timeouts are set per request from the settings)."""
    return _loop_session(_gateway_sessions, GATEWAY_CONNECTIONS)


def _no_cookies() -> CookieJar:
    """A jar that accepts no cookie from any domain."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


def spec_client() -> httpx.Client:
    """The client that reads tool specs (redirects refused, as the engine refuses them)."""
    global _spec_http
    with _spec_http_lock:
        if _spec_http is None or _spec_http.is_closed:
            _spec_http = httpx.Client(timeout=SPEC_FETCH_TIMEOUT, follow_redirects=False, cookies=_no_cookies())
        return _spec_http
