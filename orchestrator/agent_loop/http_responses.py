"""JSON responses and request bodies of the app's HTTP API, in one place for every route module."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
import orjson

from .run_request import RunRequestError

__all__ = ["MAX_BODY_BYTES", "error_response", "json_response", "read_json_body"]

MAX_BODY_BYTES = 256 * 1024


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, ensure_ascii=False), status_code=status, mimetype="application/json", headers=headers
    )


def error_response(status: int, message: str, field: str | None = None) -> func.HttpResponse:
    return json_response({"error": {"message": message, "field": field}}, status)


def read_json_body(req: func.HttpRequest) -> Any:
    """The decoded JSON body; RunRequestError says what is wrong with it."""
    raw = req.get_body()
    if len(raw) > MAX_BODY_BYTES:
        raise RunRequestError(f"the request body is larger than {MAX_BODY_BYTES} bytes", None)
    if not raw.strip():
        raise RunRequestError("the request body is empty; send a JSON object", None)
    try:
        # Strict JSON: no NaN or Infinity, no lone surrogates, nesting within orjson's limit.
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RunRequestError(f"the request body is not valid JSON: {exc}", None) from None
