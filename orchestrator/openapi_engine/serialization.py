"""Writing argument values into a request exactly as OpenAPI parameter styles say.

Path values are percent-encoded piece by piece (dots too, so a value can never become
`..`), so nothing a model writes can change which endpoint is called. Query values are
returned as (name, value) pairs for httpx to encode; headers and cookies as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from .models import ParamBinding

__all__ = ["form_pairs", "path_value", "query_pairs", "scalar_text", "header_value", "cookie_pair"]


def scalar_text(value: Any) -> str:
    """A primitive as text: booleans lowercase, null empty, containers as JSON."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _encode(text: str, allow_reserved: bool = False) -> str:
    safe = ":/?#[]@!$&'()*+,;=" if allow_reserved else ""
    return quote(text, safe=safe).replace(".", "%2E")


def _parts(value: Any, explode: bool, enc: Any) -> tuple[str, list[str], list[tuple[str, str]]]:
    """(kind, array items, object pairs), each item already encoded."""
    if isinstance(value, list):
        return "array", [enc(scalar_text(v)) for v in value], []
    if isinstance(value, dict):
        return "object", [], [(enc(str(k)), enc(scalar_text(v))) for k, v in value.items()]
    return "primitive", [enc(scalar_text(value))], []


def path_value(binding: ParamBinding, value: Any) -> str:
    """The text that replaces `{name}` in the path (simple, label or matrix style)."""
    if binding.content_type:
        return _encode(scalar_text(value if isinstance(value, (dict, list)) else json.dumps(value)))
    kind, items, pairs = _parts(value, binding.explode, _encode)
    style, explode, name = binding.style, binding.explode, _encode(binding.name)
    if style == "label":
        if kind == "object":
            sep = "." if explode else ","
            return "." + sep.join(f"{k}={v}" if explode else f"{k},{v}" for k, v in pairs)
        return "." + ("." if explode else ",").join(items)
    if style == "matrix":
        if kind == "object":
            if explode:
                return "".join(f";{k}={v}" for k, v in pairs)
            return f";{name}=" + ",".join(f"{k},{v}" for k, v in pairs)
        if kind == "array" and explode:
            return "".join(f";{name}={v}" for v in items)
        return f";{name}=" + ",".join(items)
    if kind == "object":
        return ",".join(f"{k}={v}" if explode else f"{k},{v}" for k, v in pairs)
    return ",".join(items)


def query_pairs(binding: ParamBinding, value: Any) -> list[tuple[str, str]]:
    """(name, value) pairs for one query parameter (form, spaceDelimited, pipeDelimited, deepObject)."""
    name = binding.name
    if binding.content_type:
        return [(name, json.dumps(value, separators=(",", ":"), ensure_ascii=False))]
    if isinstance(value, dict):
        if binding.style == "deepObject":
            return [(f"{name}[{k}]", scalar_text(v)) for k, v in value.items()]
        if binding.explode:
            return [(str(k), scalar_text(v)) for k, v in value.items()]
        return [(name, ",".join(f"{k},{scalar_text(v)}" for k, v in value.items()))]
    if isinstance(value, list):
        texts = [scalar_text(v) for v in value]
        if binding.style == "spaceDelimited" and not binding.explode:
            return [(name, " ".join(texts))]
        if binding.style == "pipeDelimited" and not binding.explode:
            return [(name, "|".join(texts))]
        if binding.explode:
            return [(name, t) for t in texts]
        return [(name, ",".join(texts))]
    return [(name, scalar_text(value))]


def header_value(binding: ParamBinding, value: Any) -> str:
    """A header value in simple style."""
    if binding.content_type:  # escaped to ASCII: a header carries no other text
        return json.dumps(value, separators=(",", ":"))
    if isinstance(value, list):
        return ",".join(scalar_text(v) for v in value)
    if isinstance(value, dict):
        sep = "=" if binding.explode else ","
        return ",".join(f"{k}{sep}{scalar_text(v)}" for k, v in value.items())
    return scalar_text(value)


def cookie_pair(binding: ParamBinding, value: Any) -> str:
    """`name=value` for the Cookie header (form style, values percent-encoded)."""
    if isinstance(value, list):
        text = ",".join(scalar_text(v) for v in value)
    elif isinstance(value, dict):
        text = ",".join(f"{k},{scalar_text(v)}" for k, v in value.items())
    else:
        text = scalar_text(value)
    return f"{binding.name}={quote(text, safe='')}"


def form_pairs(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Form-urlencoded fields: arrays repeat the name, objects are sent as JSON text."""
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        if isinstance(value, list):
            pairs.extend((key, scalar_text(v)) for v in value)
        else:
            pairs.append((key, scalar_text(value)))
    return pairs
