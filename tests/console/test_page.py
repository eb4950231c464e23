"""The console page as served: one document with its assets inline and a CSP that allows them."""

from __future__ import annotations

import base64
import hashlib
import re

import httpx

from console import console_headers, render_console
from tests.support.servers import RunningServer


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_render_console_inlines_css_and_js_without_placeholders() -> None:
    page = render_console()
    assert page.startswith("<!doctype html>")
    assert "/*CONSOLE_CSS*/" not in page and "/*CONSOLE_JS*/" not in page
    assert "function viewRun(" in page and ".badge" in page


def test_csp_hashes_match_the_inline_script_and_style() -> None:
    page = render_console()
    script = re.search(r"<script>(.*)</script>", page, re.S)
    style = re.search(r"<style>(.*)</style>", page, re.S)
    assert script is not None and style is not None
    policy = console_headers()["Content-Security-Policy"]
    assert f"script-src {_hash(script.group(1))}" in policy
    assert f"style-src {_hash(style.group(1))}" in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy


def test_page_never_writes_data_as_html() -> None:
    script = render_console()
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script


def test_console_is_served_anonymously_with_its_headers(fake_api: RunningServer) -> None:
    response = httpx.get(fake_api.url + "/console")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"] == console_headers()["Content-Security-Policy"]
    assert response.text == render_console()
