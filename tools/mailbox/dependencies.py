"""Dependencies shared by the routers: the API key check, the store, the idempotency header.

The API key is compared in constant time. With no key configured the service is
closed rather than open: every protected request gets 401 (secure by default).
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import APIKeyHeader
from starlette.datastructures import Headers

from .config import Settings
from .idempotency import MAX_KEY_LENGTH
from .store import MessageStore

__all__ = ["IdempotencyKey", "api_key_matches", "get_store", "idempotency_key", "require_api_key"]

API_KEY_HEADER = "X-API-Key"

_api_key_scheme = APIKeyHeader(
    name=API_KEY_HEADER,
    scheme_name="ApiKeyAuth",
    description="The service's API key, sent in the X-API-Key header.",
    auto_error=False,
)


def api_key_matches(settings: Settings, presented: str | None) -> bool:
    """True when a key is configured and ``presented`` equals it (constant-time)."""
    if settings.api_key is None or presented is None:
        return False
    expected = settings.api_key.get_secret_value().encode()
    return hmac.compare_digest(expected, presented.encode())


def authorize_headers(settings: Settings, headers: Headers) -> bool:
    return api_key_matches(settings, headers.get(API_KEY_HEADER))


def require_api_key(request: Request, presented: Annotated[str | None, Depends(_api_key_scheme)]) -> None:
    settings: Settings = request.app.state.settings
    if settings.api_key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "this service has no API key configured (set MAILBOX_API_KEY); request refused",
        )
    if presented is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"missing {API_KEY_HEADER} header")
    if not api_key_matches(settings, presented):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid {API_KEY_HEADER}")


def get_store(request: Request) -> MessageStore:
    store: MessageStore = request.app.state.store
    return store


def idempotency_key(
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
