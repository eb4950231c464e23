"""Signed callback URLs: a tool can raise only its own run's callback event.

The signature is an HMAC of the run id and call id under the app's callback secret, so a URL
handed to one tool for one call cannot be replayed against another run or call. Whoever holds
a signed URL can answer for the call, so no tool result keeps a signature on its way to a model.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import quote

__all__ = ["callback_signature", "callback_url", "verify_callback", "withhold_signatures"]

_SIGNATURE = re.compile(r"([?&]sig=)[0-9a-fA-F]{64}")
WITHHELD = "[withheld]"


def callback_signature(secret: str, run_id: str, call_id: str) -> str:
    # surrogatepass: ids arrive from URLs and may hold lone surrogates, which must not raise
    message = f"{run_id}\n{call_id}".encode("utf-8", "surrogatepass")
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def callback_url(public_url: str, secret: str, run_id: str, call_id: str) -> str:
    base = public_url.rstrip("/")
    sig = callback_signature(secret, run_id, call_id)
    return f"{base}/api/runs/{quote(run_id, safe='')}/callbacks/{quote(call_id, safe='')}?sig={sig}"


def verify_callback(secret: str, run_id: str, call_id: str, sig: str) -> bool:
    if not secret or not sig:
        return False
    expected = callback_signature(secret, run_id, call_id).encode()
    return hmac.compare_digest(expected, sig.encode("utf-8", "surrogatepass"))


def withhold_signatures(text: str) -> str:
    """``text`` with the signature of every signed callback URL in it replaced."""
    return _SIGNATURE.sub(rf"\g<1>{WITHHELD}", text)
