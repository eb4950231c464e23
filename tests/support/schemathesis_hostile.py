"""Schemathesis hooks that send each generated JSON body in a hostile form a lenient parser takes.

Schemathesis only writes valid JSON, so on its own it never sends what broke our services:
``NaN`` and ``Infinity`` literals, lone UTF-16 surrogates, and nesting deeper than Python's
recursion limit. These hooks rewrite every JSON body a run sends into one of those forms, in
turn, keeping the generated content around it, so a run with the ``not_a_server_error`` check
shows that each of them is answered with a 4xx, never a 5xx.

Use: ``SCHEMATHESIS_HOOKS=tests.support.schemathesis_hostile schemathesis run ... --checks not_a_server_error``.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import schemathesis

VARIANTS = ("nan", "infinity", "lone_surrogate", "deep_object", "deep_array")
DEPTH = 5000
_turn = itertools.cycle(VARIANTS)


def hostile(body: Any, variant: str) -> bytes:
    """``body`` as JSON text carrying one hostile construct (``variant`` is one of ``VARIANTS``)."""
    if variant == "deep_array":
        return ("[" * DEPTH + json.dumps(body) + "]" * DEPTH).encode()
    if variant == "deep_object":
        inner = '{"a":' * DEPTH + "1" + "}" * DEPTH
        return _with_member(body, inner)
    if variant == "nan":
        return _with_member(body, "NaN")
    if variant == "infinity":
        return _with_member(body, "-Infinity")
    return _with_member(body, '"\\ud800"')


def _with_member(body: Any, raw: str) -> bytes:
    """The body with ``raw`` in place of its first string or number (or added to it when it has none)."""
    if isinstance(body, dict):
        for key, value in body.items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                rest = {k: v for k, v in body.items() if k != key}
                text = json.dumps(rest)
                return (f"{{{json.dumps(key)}:{raw}" + ("," + text[1:] if rest else "}")).encode()
        text = json.dumps(body)
        return (f'{{"hostile":{raw}' + ("," + text[1:] if body else "}")).encode()
    if isinstance(body, list):
        return f"[{raw}{',' if body else ''}{json.dumps(body)[1:]}".encode()
    return f"[{raw}]".encode()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    body = case.body
    if not isinstance(body, dict | list):  # no body, or not a JSON one
        return
    media_type = (case.media_type or "").lower()
    if "json" not in media_type:
        return
    kwargs["json"] = None  # the serialised body gives way to the raw one
    kwargs["data"] = hostile(body, next(_turn))
