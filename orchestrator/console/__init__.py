"""The toolmesh web console: one static page the orchestrator app serves at /console.

The page is plain HTML, CSS and JavaScript kept as package data (``static/``) and joined
into one document here, so the HTTP route is a single string response with no build step
and no file server, and it deploys with the Function App. The page talks only to the
public run API and polls it, which behaves the same on Azure and on the local host.

``console_headers()`` gives the response headers to send with it: a Content-Security-Policy
that allows exactly the page's own inline script and style (by hash) and same-origin API
calls, so injected markup could not run code even if it reached the page.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from importlib import resources

__all__ = ["console_headers", "render_console"]

_CSS_MARK = "/*CONSOLE_CSS*/"
_JS_MARK = "/*CONSOLE_JS*/"


def _asset(name: str) -> str:
    return resources.files(__name__).joinpath("static", name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _parts() -> tuple[str, str, str]:
    html, css, js = _asset("console.html"), _asset("console.css"), _asset("console.js")
    if _CSS_MARK not in html or _JS_MARK not in html:
        raise RuntimeError("console.html lost its CSS or JS placeholder")
    # "</" inside inline code would end the element early: the assets must not contain it.
    for name, text in (("console.css", css), ("console.js", js)):
        if "</" in text:
            raise RuntimeError(f"{name} contains '</', which would break the inline page")
    return html.replace(_CSS_MARK, css).replace(_JS_MARK, js), css, js


def render_console() -> str:
    """The complete console page (HTML with its CSS and JavaScript inline)."""
    return _parts()[0]


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def console_headers() -> dict[str, str]:
    """Headers for the console response: content type, a strict CSP, no caching, no framing."""
    _, css, js = _parts()
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_sha256(js)}",
            f"style-src {_sha256(css)}",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }
