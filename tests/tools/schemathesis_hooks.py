"""Schemathesis hooks for the tool services' conformance runs.

Schemathesis reuses generated header values across requests, so two different
creations could share an ``Idempotency-Key`` and the second would (correctly) replay
the first: its stateful checks would then see a "created" resource that a later step
deleted. A fresh valid key per call keeps those checks meaningful; idempotency itself
is tested directly in each service's tests. Negative cases are left untouched: an
edit makes schemathesis revalidate the case, which would undo the header it removed.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import schemathesis

_VALID_KEY = re.compile(r"^[\x21-\x7E]{1,255}$")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    meta = case.meta
    if meta is not None and meta.generation.mode.is_negative:
        return
    headers = case.headers or {}
    for name in list(headers):
        if name.lower() == "idempotency-key" and isinstance(headers[name], str) and _VALID_KEY.match(headers[name]):
            headers[name] = f"st-{uuid.uuid4().hex}"
