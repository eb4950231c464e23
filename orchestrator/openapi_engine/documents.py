"""Reading spec documents: files, URLs, JSON and YAML (with YAML 1.1 quirks tamed).

Specs in the wild are written by hand in YAML 1.1, where `200:` is an integer key,
`yes`/`on` are booleans and `2020-01-01` is a date. OpenAPI means strings in all of
those places, so the loader keeps mapping keys, dates and yes/no words as strings.
Sizes are bounded so a hostile spec cannot exhaust memory.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from .errors import SpecLoadError

__all__ = ["MAX_DOCUMENT_BYTES", "is_url", "parse_document", "read_source"]

MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
"""Largest spec file accepted (the biggest real spec in the corpus is 3 MB)."""


class _SpecYamlLoader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """Safe YAML loader that keeps keys, dates and yes/no words as strings."""

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[str, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        if all(isinstance(key, str) for key in mapping):
            return mapping  # type: ignore[no-any-return]
        return {_key_text(key): value for key, value in mapping.items()}


def _key_text(key: object) -> str:
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    return str(key)


# Only `true`/`false` are booleans; `yes`, `no`, `on`, `off` stay strings as in YAML 1.2.
_SpecYamlLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SpecYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def is_url(source: str) -> bool:
    """True for http(s) sources."""
    return urlsplit(source).scheme in ("http", "https")


def parse_document(data: bytes | str, source: str) -> Any:
    """Parse JSON or YAML text; errors name the source and the line."""
    if len(data) > MAX_DOCUMENT_BYTES:
        raise SpecLoadError(source, None, f"document is {len(data)} bytes, over the {MAX_DOCUMENT_BYTES} limit")
    text = data.decode("utf-8-sig", errors="replace") if isinstance(data, bytes) else data
    stripped = text.lstrip()
    if not stripped:
        raise SpecLoadError(source, None, "document is empty")
    try:
        if stripped[0] in "{[" or source.lower().endswith(".json"):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                if source.lower().endswith(".json"):
                    raise SpecLoadError(
                        source, None, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
                    ) from None
        return yaml.load(text, Loader=_SpecYamlLoader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecLoadError(source, None, f"invalid YAML{where}: {problem}") from None
    except RecursionError:
        raise SpecLoadError(source, None, "document is nested too deeply") from None


def read_source(source: str, *, client: httpx.Client | None = None) -> bytes:
    """Read the bytes of a file path or an http(s) URL (through `client`)."""
    if is_url(source):
        return _fetch(source, client)
    path = Path(source)
    try:
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise SpecLoadError(source, None, f"file is {size} bytes, over the {MAX_DOCUMENT_BYTES} limit")
        return path.read_bytes()
    except FileNotFoundError:
        raise SpecLoadError(source, None, "file not found") from None
    except IsADirectoryError:
        raise SpecLoadError(source, None, "is a directory, not a spec file") from None
    except OSError as exc:
        raise SpecLoadError(source, None, f"cannot read file: {exc.strerror or exc}") from None


def _fetch(url: str, client: httpx.Client | None) -> bytes:
    own = client is None
    http = client or httpx.Client(timeout=httpx.Timeout(30.0))
    try:
        with http.stream("GET", url, follow_redirects=False) as response:
            if response.is_redirect:
                raise SpecLoadError(url, None, f"HTTP {response.status_code} redirect is not followed")
            if response.status_code != 200:
                raise SpecLoadError(url, None, f"HTTP {response.status_code} when fetching the spec")
            chunks: list[bytes] = []
            total = 0
            for chunk in response.iter_bytes():
                total += len(chunk)
                if total > MAX_DOCUMENT_BYTES:
                    raise SpecLoadError(url, None, f"document is over the {MAX_DOCUMENT_BYTES} byte limit")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise SpecLoadError(url, None, f"cannot fetch: {type(exc).__name__}: {exc}") from None
    finally:
        if own:
            http.close()
