"""Request-level helpers shared by the routers: state, authentication, JSON bodies."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError

from llm_gateway.errors import AuthenticationFailed, InvalidRequest
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


async def read_json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidRequest(
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using "
            "your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not "
            "valid JSON.)"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


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
