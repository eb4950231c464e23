"""Calling an operation: arguments in, one HTTP request out, a `ToolResult` back.

The request goes only to the tool's registered `base_url`: path values are
percent-encoded, same-origin redirects are followed a few times and any other redirect
is refused. Credentials come from `settings` under the names the registry gave and are
never echoed. Every failure — invalid arguments, HTTP errors, timeouts, unreachable
hosts — is a result the model can read, marked retryable when trying again may help.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
from yarl import URL

from .arguments import drop_omitted_nulls, invalid_arguments_result
from .models import RUN_ID_HEADER, SecurityBinding, ToolFunction, ToolResult
from .serialization import cookie_pair, form_pairs, header_value, path_value, query_pairs, scalar_text

__all__ = ["DEFAULT_MAX_BODY_CHARS", "DEFAULT_TOOL_TIMEOUT", "MAX_REDIRECTS", "invoke"]

DEFAULT_TOOL_TIMEOUT = 30.0
DEFAULT_MAX_BODY_CHARS = 8000
MAX_REDIRECTS = 5
_PAGING_NAMES = frozenset(
    {"limit", "page", "per_page", "page_size", "pagesize", "offset", "cursor", "starting_after", "page_token"}
)
_TEXT_TYPES = ("json", "text/", "xml", "javascript", "x-www-form-urlencoded", "yaml", "csv")


# What a header value may carry: visible ASCII, space and tab. Anything else (line breaks,
# NUL and other control characters, non-ASCII text) is refused by HTTP clients or could split
# the header, so it is refused here, before sending, with a message the model can act on.
_HEADER_UNSAFE = re.compile(r"[^\t\x20-\x7e]")


class _CallError(Exception):
    """A problem found before sending; becomes a non-retryable ToolResult."""


def _origin(url: str | httpx.URL) -> tuple[str, str]:
    parts = urlsplit(str(url))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, f"{(parts.hostname or '').lower()}:{port}"


def _credentials(function: ToolFunction, settings: Mapping[str, str]) -> list[SecurityBinding]:
    if not function.security:
        return []
    for alternative in function.security:
        if all(settings.get(b.setting) for b in alternative):
            return alternative
    needed = sorted({b.setting for alt in function.security for b in alt})
    raise _CallError(f"the tool is not configured: no credential in setting(s) {', '.join(needed)}")


def _set_pointer(body: dict[str, Any], pointer: str, value: str) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("/").split("/")]
    node = body
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise _CallError(f"cannot place the callback URL at {pointer}")
    node[parts[-1]] = value


def _build(
    function: ToolFunction,
    arguments: Mapping[str, Any],
    *,
    base_url: str,
    settings: Mapping[str, str],
    idempotency_key: str | None,
    callback_url: str | None,
    run_id: str | None = None,
) -> dict[str, Any]:
    path = function.path
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for binding in function.params:
        if binding.arg not in arguments:
            if binding.location == "path":
                raise _CallError(f"missing required argument '{binding.arg}'")
            continue
        value = arguments[binding.arg]
        if binding.location == "path":
            path = path.replace("{" + binding.name + "}", path_value(binding, value))
        elif binding.location == "query":
            query.extend(query_pairs(binding, value))
        elif binding.location == "header":
            text = header_value(binding, value)
            if _HEADER_UNSAFE.search(text):
                raise _CallError(
                    f"argument '{binding.arg}' is sent as a header, so it may hold only printable ASCII "
                    "characters: no line breaks, control characters or non-ASCII text"
                )
            headers[binding.name] = text
        else:
            cookies.append(cookie_pair(binding, value))
    request: dict[str, Any] = {}
    body = function.body
    payload: Any = None
    if body is not None:
        if body.whole_arg is not None:
            payload = arguments.get(body.whole_arg)
        else:
            payload = {prop: arguments[arg] for arg, prop in body.fields.items() if arg in arguments}
    callback = function.callback
    if callback is not None:
        if not callback_url:
            raise _CallError("this operation needs a callback URL, and none was given")
        if callback.location == "body":
            payload = dict(payload) if isinstance(payload, dict) else {}
            _set_pointer(payload, callback.target, callback_url)
        elif callback.location == "query":
            query.append((callback.target, callback_url))
        else:
            headers[callback.target] = callback_url
    if body is not None and (payload not in (None, {}) or body.required):
        request.update(_body(body.media_type, payload if payload is not None else {}, body.binary_fields))
    for credential in _credentials(function, settings):
        secret = settings[credential.setting]
        if credential.kind == "apiKey":
            if credential.location == "header":
                headers[credential.param_name] = secret
            elif credential.location == "query":
                query.append((credential.param_name, secret))
            else:
                cookies.append(f"{credential.param_name}={secret}")
        elif credential.kind == "basic":
            token = secret if ":" not in secret else base64.b64encode(secret.encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        else:
            headers["Authorization"] = f"Bearer {secret}"
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    for name in [h for h in headers if h.lower() == RUN_ID_HEADER.lower()]:
        del headers[name]  # only the caller names the run, whatever a spec declares
    if run_id:
        headers[RUN_ID_HEADER] = run_id
    url = base_url.rstrip("/") + function.server_path + (path if path.startswith("/") else "/" + path)
    if _origin(url) != _origin(base_url):
        raise _CallError("the request would leave the tool's server; refused")
    request.update(method=function.method, url=url, params=query, headers=headers)
    return request


def _body(media_type: str, payload: Any, binary_fields: list[str]) -> dict[str, Any]:
    low = media_type.lower()
    if "json" in low:
        return {"content": json.dumps(payload, ensure_ascii=False).encode(), "headers_ct": media_type}
    if "x-www-form-urlencoded" in low:
        if not isinstance(payload, dict):
            raise _CallError("the form body must be an object")
        fields: dict[str, list[str]] = {}
        for key, text in form_pairs(payload):
            fields.setdefault(key, []).append(text)
        return {"data": fields}
    if "multipart" in low:
        if not isinstance(payload, dict):
            raise _CallError("the multipart body must be an object")
        files: list[tuple[str, tuple[str | None, bytes | str, str | None]]] = []
        for key, value in payload.items():
            if key in binary_fields:
                files.append((key, (key, _file_bytes(value), "application/octet-stream")))
            else:
                files.append((key, (None, scalar_text(value), None)))
        return {"files": files}
    if isinstance(payload, str):
        data = _file_bytes(payload) if low == "application/octet-stream" else payload.encode()
    else:
        data = scalar_text(payload).encode()
    return {"content": data, "headers_ct": media_type}


def _file_bytes(value: Any) -> bytes:
    """File content from the model: `base64:...` is decoded, other text is sent as UTF-8."""
    text = scalar_text(value)
    if text.startswith("base64:"):
        try:
            return base64.b64decode(text[7:], validate=True)
        except (binascii.Error, ValueError):
            raise _CallError("file content starting with 'base64:' is not valid base64") from None
    return text.encode()


def paging_hint(function: ToolFunction) -> str:
    """How to read the rest of a long answer, when the operation has paging arguments."""
    names = [b.arg for b in function.params if b.location == "query" and b.name.lower() in _PAGING_NAMES]
    return f"; use {', '.join(names)} to read the rest" if names else ""


def _text(content: bytes, content_type: str | None, limit: int, capped: bool, hint: str) -> tuple[str, bool]:
    kind = (content_type or "").lower()
    if content and kind and not any(t in kind for t in _TEXT_TYPES):
        more = " or more" if capped else ""
        return f"<{len(content)}{more} bytes of {content_type}>", False
    text = content.decode("utf-8", errors="replace")
    if len(text) <= limit and not capped:
        return text, False
    total = f"over {len(text)}" if capped else str(len(text))
    return f"{text[:limit]}\n…[truncated: showing {min(limit, len(text))} of {total} characters{hint}]", True


async def invoke(
    function: ToolFunction,
    arguments: Mapping[str, Any],
    *,
    base_url: str,
    client: aiohttp.ClientSession,
    settings: Mapping[str, str],
    timeout_seconds: float = DEFAULT_TOOL_TIMEOUT,
    idempotency_key: str | None = None,
    callback_url: str | None = None,
    max_body_chars: int = DEFAULT_MAX_BODY_CHARS,
    run_id: str | None = None,
) -> ToolResult:
    """Validate, build the request per the spec, send it to `base_url`, and report the outcome.

    ``run_id`` goes out as the `RUN_ID_HEADER` header, so services can scope data to the run.
    """
    invalid = invalid_arguments_result(function, arguments)
    if invalid is not None:
        return invalid
    try:
        spec = _build(
            function, drop_omitted_nulls(function, arguments), base_url=base_url, settings=settings,
            idempotency_key=idempotency_key, callback_url=callback_url, run_id=run_id,
        )  # fmt: skip
    except _CallError as exc:
        return ToolResult(ok=False, error=str(exc))
    content_type = spec.pop("headers_ct", None)
    if content_type:
        spec["headers"]["Content-Type"] = content_type
    try:
        request = httpx.Request(**spec)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        return ToolResult(ok=False, error=f"the request could not be built: {exc}")
    timeout = aiohttp.ClientTimeout(total=timeout_seconds)
    try:
        return await _send(client, request, base_url, timeout, max_body_chars, paging_hint(function))
    except TimeoutError:
        return ToolResult(ok=False, error=f"the service did not answer within {timeout_seconds:g} s", retryable=True)
    except aiohttp.ClientConnectionError as exc:
        return ToolResult(ok=False, error=f"could not reach the service ({type(exc).__name__})", retryable=True)
    except aiohttp.ClientPayloadError as exc:
        # The connection dropped while the answer was coming (a service killed mid-response), as
        # a disconnect before it would have: calling again is as safe as for any retryable failure.
        return ToolResult(ok=False, error=f"the service's answer was cut off ({type(exc).__name__})", retryable=True)
    except aiohttp.ClientError as exc:
        return ToolResult(ok=False, error=f"request failed: {type(exc).__name__}")
    except ValueError as exc:
        # The HTTP client refused what it was asked to send. Its message may quote the request
        # (and so a credential), hence only the kind of error.
        return ToolResult(ok=False, error=f"the request could not be sent ({type(exc).__name__})")


# Headers the transport writes itself from the request it sends.
_TRANSPORT_HEADERS = frozenset({"host", "content-length", "transfer-encoding"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


async def _send(
    client: aiohttp.ClientSession,
    request: httpx.Request,
    base_url: str,
    timeout: aiohttp.ClientTimeout,
    limit: int,
    hint: str,
) -> ToolResult:
    """Send ``request`` (encoded by httpx: params, forms, multipart) over the aiohttp session.

    httpx builds the bytes, so how arguments are encoded does not depend on the transport;
    aiohttp carries them, because its connection pool stays cheap with hundreds of calls in
    flight, where httpcore's scans every connection for every request.
    """
    for _ in range(MAX_REDIRECTS + 1):
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _TRANSPORT_HEADERS]
        async with client.request(
            request.method,
            URL(str(request.url), encoded=True),
            headers=headers,
            data=request.read() or None,
            allow_redirects=False,
            timeout=timeout,
        ) as response:
            location = response.headers.get("location")
            if response.status in _REDIRECTS and location:
                target = request.url.join(location)
                if _origin(target) != _origin(base_url):
                    return ToolResult(
                        ok=False, status=response.status,
                        error=f"refused a redirect to another host ({target.host})",
                    )  # fmt: skip
                request = _redirected(request, response.status, target)
                continue
            cap = max(limit * 4, 65536)
            content = await response.content.read(cap + 1)
            while len(content) <= cap and not response.content.at_eof():
                more = await response.content.read(cap + 1 - len(content))
                if not more:
                    break
                content += more
            capped = len(content) > cap
            content_type = response.headers.get("content-type")
            status, reason = response.status, response.reason or ""
            # 409 with Retry-After: the service still holds this Idempotency-Key for an earlier try.
            later = status == 409 and "retry-after" in response.headers
        body, truncated = _text(content[:cap] if capped else content, content_type, limit, capped, hint)
        ok = 200 <= status < 300
        error = None if ok else f"the service answered HTTP {status} {reason}".rstrip()
        return ToolResult(
            ok=ok, status=status, content_type=content_type, body=body, truncated=truncated, error=error,
            retryable=status == 429 or status >= 500 or later,
        )  # fmt: skip
    return ToolResult(ok=False, error=f"more than {MAX_REDIRECTS} redirects", retryable=False)


def _redirected(request: httpx.Request, status: int, target: httpx.URL) -> httpx.Request:
    """The request to send after a redirect, as browsers (and httpx) make it.

    307 and 308 repeat the request as it was; 303, and 301/302 after a POST, become a GET
    without a body.
    """
    method = request.method
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method = "GET"
    if method == request.method:
        return httpx.Request(method, target, headers=request.headers, content=request.read())
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("content-type", "content-length")}
    return httpx.Request(method, target, headers=headers)
