"""Dependencies every router uses: the API key check, the Idempotency-Key header and the run scope.

They are coroutines because they never block: FastAPI runs a plain function dependency
in its thread pool, a hand-off that costs far more than the check itself. The API key
is compared in constant time. With no key configured the service is
closed rather than open: every protected request gets 401 (secure by default).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import APIKeyHeader
from starlette.datastructures import Headers

from .idempotency import MAX_KEY_LENGTH, REQUEST_CLAIM
from .settings import ServiceSettings

__all__ = [
    "RUN_ID_HEADER",
    "IdempotencyKey",
    "RequestClaim",
    "RunScope",
    "api_key_matches",
    "api_key_setting",
    "authorize_headers",
    "idempotency_key",
    "request_claim",
    "require_api_key",
    "run_scope",
]

API_KEY_HEADER = "X-API-Key"

_api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="ApiKeyAuth",
    description="The service's API key, sent in the X-API-Key header.",
    auto_error=False,
)


def api_key_setting(settings: ServiceSettings) -> str:
    """The environment variable that holds the key, e.g. NOTES_API_KEY (for messages)."""
    return f"{settings.model_config.get('env_prefix', '')}API_KEY"


def api_key_matches(settings: ServiceSettings, presented: str | None) -> bool:
    """True when a key is configured and ``presented`` equals it (constant-time)."""
    if settings.api_key is None or presented is None:
        return False
    expected = settings.api_key.get_secret_value().encode()
    return hmac.compare_digest(expected, presented.encode())


def authorize_headers(settings: ServiceSettings, headers: Headers) -> bool:
    return api_key_matches(settings, headers.get(API_KEY_HEADER))


async def require_api_key(request: Request, presented: Annotated[str | None, Depends(_api_key_scheme)]) -> None:
    settings: ServiceSettings = request.app.state.settings
    if settings.api_key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"this service has no API key configured (set {api_key_setting(settings)}); request refused",
        )
    if presented is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"missing {API_KEY_HEADER} header")
    if not api_key_matches(settings, presented):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid {API_KEY_HEADER}")


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            pattern=r"^[\x21-\x7E]+$",
            description="Optional. Sending the same key again returns the first response instead of "
            "acting twice, so a retried call is safe.",
        ),
    ] = None,
) -> str | None:
    """Declares the header in the spec; ``IdempotencyMiddleware`` does the work."""
    return key


IdempotencyKey = Depends(idempotency_key)


async def request_claim(request: Request) -> str | None:
    """The claim of this request's Idempotency-Key, or None when it came without one.

    A route that creates something stores it with what it creates (in the same transaction)
    and answers a request with a claim it has seen with what it made then: a retry after a
    crash between the route's commit and the key's completion does not create twice.
    """
    claim = request.scope.get("state", {}).get(REQUEST_CLAIM)
    return claim if isinstance(claim, str) else None


RequestClaim = Annotated[str | None, Depends(request_claim)]


RUN_ID_HEADER = "X-Toolmesh-Run-Id"


async def run_scope(
    run_id: Annotated[str | None, Header(alias=RUN_ID_HEADER, max_length=200, include_in_schema=False)] = None,
) -> str | None:
    """The agent run a call is made for, or None for a caller outside any run (a person, a script).

    The orchestrator's tool-call path sets this header itself; it is not in the spec, so no
    model ever sees it as an argument. Services keep a run's data to that run by it.
    """
    return run_id or None


RunScope = Annotated[str | None, Depends(run_scope)]
