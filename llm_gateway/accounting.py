"""What each request leaves behind: a usage record, a token count for the limiter, an access log line.

Chat and embeddings requests both end here, whether they succeed, fail or are abandoned, so
the usage log and the logs agree on every request.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import Request

from llm_gateway.errors import InvalidRequest
from llm_gateway.keys import ClientKey
from llm_gateway.providers.base import Provider, Usage
from llm_gateway.state import GatewayState
from llm_gateway.telemetry import record_usage
from llm_gateway.usage import UsageEntry

__all__ = ["CLIENT_CLOSED", "Outcome", "RUN_ID_HEADER", "TIMEOUT_HEADER", "read_timeout"]

RUN_ID_HEADER = "x-toolmesh-run-id"
TIMEOUT_HEADER = "x-toolmesh-timeout"
CLIENT_CLOSED = 499
"""Status logged for a stream the client left before it ended (nginx's convention)."""
log = logging.getLogger("llm_gateway.access")


def read_timeout(request: Request) -> float | None:
    raw = request.headers.get(TIMEOUT_HEADER)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise InvalidRequest(f"{TIMEOUT_HEADER} must be a positive number of seconds", param=TIMEOUT_HEADER)
    return value


class Outcome:
    """Builds the usage record and the access log line of one request."""

    def __init__(
        self,
        *,
        state: GatewayState,
        client: ClientKey,
        request: Request,
        alias: str,
        endpoint: str,
        stream: bool,
        logged: dict[str, Any] | None = None,
    ) -> None:
        self.logged = logged
        self.state = state
        self.client = client
        self.alias = alias
        self.endpoint = endpoint
        self.stream = stream
        self.run_id = request.headers.get(RUN_ID_HEADER)
        self.started = time.perf_counter()

    def finish(
        self,
        *,
        status: int,
        usage: Usage | None,
        provider: Provider | None,
        attempts: int,
        error: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> float:
        """Record the request; returns its cost in USD (0 when the deployment has no price)."""
        latency_ms = (time.perf_counter() - self.started) * 1000
        usage = usage or Usage()
        if usage.total_tokens:
            self.state.limiter.record(self.client, usage.total_tokens)
        deployment = provider.label if provider else "-"
        cost = provider.price.cost(usage) if provider and provider.price else 0.0
        self.state.usage.add(
            UsageEntry(
                created=time.time(),
                key=self.client.name,
                run_id=self.run_id,
                model=self.alias,
                deployment=deployment,
                endpoint=self.endpoint,
                stream=self.stream,
                status=status,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                estimated=usage.estimated,
                latency_ms=round(latency_ms, 3),
                cost_usd=cost,
            )
        )
        fields: dict[str, Any] = {
            "endpoint": self.endpoint,
            "key": self.client.name,
            "run_id": self.run_id,
            "model": self.alias,
            "deployment": deployment,
            "provider": provider.kind if provider else None,
            "offline": bool(provider and provider.offline),
            "stream": self.stream,
            "status": status,
            "attempts": attempts,
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "latency_ms": round(latency_ms, 2),
        }
        if error:
            fields["error"] = error
        if self.logged:
            fields.update(self.logged)
        if extra:
            fields.update(extra)
        log.info("offline answer" if fields["offline"] else "request", extra=fields)
        record_usage(
            alias=self.alias,
            deployment=deployment,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cost=cost,
        )
        return cost
