"""Request-level helpers shared by the routers: state, authentication, JSON bodies."""

from __future__ import annotations

import re
from typing import Annotated, Any

import orjson
from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from llm_gateway.config import get_settings
from llm_gateway.errors import AuthenticationFailed, InvalidRequest, PayloadTooLarge
from llm_gateway.keys import ANONYMOUS, ClientKey
from llm_gateway.state import GatewayState

__all__ = ["Client", "authenticate", "gateway_state", "read_json_object", "validate_body"]


def gateway_state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def _mask(key: str) -> str:
    return f"{key[:4]}{'*' * 4}{key[-2:]}" if len(key) > 8 else "****"


async def authenticate(request: Request) -> ClientKey:
    """The client behind ``Authorization: Bearer <key>`` (or ``api-key``), or 401.

    Async on purpose: FastAPI would run a plain function in a worker thread, which costs more
    than the check itself.
    """
    keys = gateway_state(request).keys
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, key = header.partition(" ")
        key = key.strip() if scheme.lower() == "bearer" else ""
    else:
        key = request.headers.get("api-key", "")
    if not key:
        if keys.open:
            return ANONYMOUS
        raise AuthenticationFailed(
            "You didn't provide an API key. You need to provide your API key in an Authorization header "
            "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
        )
    client = keys.authenticate(key)
    if client is None:
        if keys.open and not keys.revoked(key):
            return ANONYMOUS
        raise AuthenticationFailed(f"Incorrect API key provided: {_mask(key)}.", code="invalid_api_key")
    return client


Client = Annotated[ClientKey, Depends(authenticate)]
"""A route parameter of this type requires a valid key (or the gateway running open)."""


MAX_JSON_DEPTH = 100
"""Deepest nesting of a request body: far beyond any real conversation or tool schema, and far
below where Python's own recursion limit breaks serialising the body for the upstream (a 500)."""


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object, read up to the body limit; 413 past it, 400 when it is not strict JSON.

    Strict JSON (orjson): ``NaN``, ``Infinity`` and lone surrogates are refused here, where
    Python's parser would accept them and the request would fail later with a 500; so is nesting
    deeper than ``MAX_JSON_DEPTH``.
    """
    limit = get_settings().max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        chunks.append(chunk)
    try:
        body = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
            "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
            f"valid JSON: {exc}.)"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    if _deeper_than(body, MAX_JSON_DEPTH):
        raise InvalidRequest(f"The request body is nested more than {MAX_JSON_DEPTH} levels deep.")
    return body


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether objects and arrays nest past ``limit`` levels (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


_UNION_TAG = re.compile(r"^(str|int|float|bool|none|.*\[.*\])$")


def _location(loc: tuple[int | str, ...]) -> str:
    """A dotted parameter path, cut where pydantic starts naming union members (``input.str``)."""
    parts: list[str] = []
    for part in loc:
        if isinstance(part, str) and _UNION_TAG.match(part) and parts:
            break
        parts.append(str(part))
    return ".".join(parts)


def validate_body(model: type[BaseModel], body: dict[str, Any]) -> None:
    """Check a foreign request against its model; the first problem becomes a 400 naming the field."""
    try:
        model.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        location = _location(error["loc"])
        if error["type"] == "missing":
            raise InvalidRequest(
                f"Missing required parameter: '{location}'.",
                param=location,
                code="missing_required_parameter",
            ) from None
        raise InvalidRequest(
            f"Invalid value for '{location}': {error['msg']}.", param=location, code="invalid_value"
        ) from None
