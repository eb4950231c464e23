"""Following `$ref`s: internal pointers, relative files and URLs under the spec's root.

Multi-file specs refer to sibling files (`resources/droplets.yml#/droplet`). Each
reference is resolved against the document that holds it, loaded once, and checked
against the root the spec came from: a file spec may only reach files under its own
folder, a URL spec only URLs under its own folder on the same host (other hosts only
when allowed explicitly). Anything else — `/etc/passwd`, `file://`, another host — is
refused with a `RefError` naming the document, the pointer and the reason. Cycles are
never followed eagerly: callers ask for one hop at a time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from .documents import is_url, parse_document, read_source
from .errors import RefError, SpecLoadError

__all__ = ["MAX_DOCUMENTS", "Resolved", "Resolver", "escape_pointer", "resolve_pointer"]

MAX_DOCUMENTS = 10_000
"""Most documents one spec may pull in (DigitalOcean's spec has about 2,900)."""

MAX_REF_HOPS = 64
"""Longest chain of `$ref` -> `$ref` followed before it is called a loop."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Resolved:
    """The target of a reference: the node, the document holding it and a unique key."""

    node: Any
    doc: str
    key: str


def escape_pointer(token: str) -> str:
    """Escape one JSON pointer reference token."""
    return token.replace("~", "~0").replace("/", "~1")


def resolve_pointer(document: Any, pointer: str, source: str) -> Any:
    """The node at a JSON pointer (`/a/b~1c`, already percent-decoded)."""
    node = document
    if pointer in ("", "/"):
        return node
    if not pointer.startswith("/"):
        raise RefError(source, pointer, "a JSON pointer must start with '/'")
    for raw in pointer[1:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            if token not in node:
                raise RefError(source, pointer, f"no member {token!r}")
            node = node[token]
        elif isinstance(node, list):
            if not token.isdigit() or int(token) >= len(node):
                raise RefError(source, pointer, f"no array item {token!r}")
            node = node[int(token)]
        else:
            raise RefError(source, pointer, f"cannot step into a {type(node).__name__} at {token!r}")
    return node


class Resolver:
    """Loads the documents of one spec and follows references between them."""

    def __init__(
        self,
        root: Any,
        source: str,
        *,
        client: httpx.Client | None = None,
        allowed_hosts: Iterable[str] = (),
        loader: Callable[[str], Any] | None = None,
    ) -> None:
        self.source = source
        self._client = client
        self._allowed_hosts = frozenset(h.lower() for h in allowed_hosts)
        self._loader = loader
        if is_url(source):
            parts = urlsplit(source)
            self._root_host = parts.netloc.lower()
            self._root_dir = parts.path.rsplit("/", 1)[0] + "/"
        else:
            self._root_host = ""
            self._root_dir = os.path.dirname(os.path.realpath(source)) + os.sep
            source = os.path.realpath(source)
            self.source = source
        self._docs: dict[str, Any] = {source: root}

    @property
    def root(self) -> Any:
        return self._docs[self.source]

    def document(self, doc: str) -> Any:
        return self._docs[doc]

    def resolve(self, ref: object, doc: str) -> Resolved:
        """Follow one `$ref` found in document `doc` (one hop)."""
        if not isinstance(ref, str):
            raise RefError(doc, None, f"$ref must be a string, got {type(ref).__name__}")
        target, _, fragment = ref.partition("#")
        pointer = unquote(fragment)
        target_doc = self._locate(target, doc) if target else doc
        document = self._load(target_doc, ref)
        node = resolve_pointer(document, pointer, target_doc)
        return Resolved(node=node, doc=target_doc, key=f"{target_doc}#{pointer}")

    def deref(self, node: Any, doc: str) -> tuple[Any, str, str | None]:
        """Follow `$ref`s until a node without one: (node, its document, key of last ref)."""
        key: str | None = None
        seen: set[str] = set()
        while isinstance(node, dict) and "$ref" in node:
            hit = self.resolve(node["$ref"], doc)
            if hit.key in seen or len(seen) >= MAX_REF_HOPS:
                raise RefError(doc, None, f"$ref {node['$ref']!r} loops back to itself")
            seen.add(hit.key)
            node, doc, key = hit.node, hit.doc, hit.key
        return node, doc, key

    def _locate(self, target: str, doc: str) -> str:
        # Any scheme but http(s) (file:, data:, ftp:, ...) is refused, whether the spec came from
        # a file or a URL: joined to a URL, ``file:x`` stays ``file:x`` and would be read from disk.
        if urlsplit(target).scheme and not is_url(target):
            raise RefError(doc, None, f"$ref {target!r}: only relative files and http(s) URLs are allowed")
        if is_url(doc):
            absolute = urljoin(doc, target)
        elif is_url(target):
            absolute = target
        else:
            absolute = os.path.realpath(os.path.join(os.path.dirname(doc), unquote(target)))
        if is_url(absolute):
            parts = urlsplit(absolute)
            host = parts.netloc.lower()
            if host != self._root_host:
                if parts.hostname and parts.hostname.lower() in self._allowed_hosts:
                    return absolute.split("#", 1)[0]
                raise RefError(doc, None, f"$ref {target!r} points at another host ({host}), which is not allowed")
            if not parts.path.startswith(self._root_dir) or "/../" in parts.path:
                raise RefError(doc, None, f"$ref {target!r} leaves the spec's root {self._root_dir}")
            return absolute.split("#", 1)[0]
        if not self._root_host and not absolute.startswith(self._root_dir):
            raise RefError(doc, None, f"$ref {target!r} leaves the spec's folder {self._root_dir}")
        return absolute

    def _load(self, doc: str, ref: str) -> Any:
        if doc in self._docs:
            return self._docs[doc]
        if len(self._docs) >= MAX_DOCUMENTS:
            raise RefError(doc, None, f"more than {MAX_DOCUMENTS} referenced documents")
        try:
            if self._loader is not None:
                loaded = self._loader(doc)
            else:
                loaded = parse_document(read_source(doc, client=self._client), doc)
        except RefError:
            raise
        except SpecLoadError as exc:
            raise RefError(exc.source, exc.pointer, f"{exc.reason} (while following $ref {ref!r})") from None
        self._docs[doc] = loaded
        return loaded


def relative_name(doc: str, root_source: str) -> str:
    """A short readable name of `doc` relative to the root spec (for messages)."""
    if is_url(doc):
        return doc
    try:
        return str(Path(doc).relative_to(Path(root_source).parent))
    except ValueError:
        return doc
