"""Function names OpenAI accepts: `^[a-zA-Z0-9_-]{1,64}$`, unique and stable.

Names come from the operationId (or method and path), with every other character
replaced by `_`. Names that collide after that, or that are too long, get a short hash
of the operation's method and path, so the same spec always yields the same names no
matter in which order operations are read. Across tools, colliding names get the tool
name as a prefix.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

__all__ = ["MAX_NAME", "base_name", "short_hash", "with_suffix"]

MAX_NAME = 64
_INVALID = re.compile(r"[^a-zA-Z0-9_-]+")
_UNDERSCORES = re.compile(r"_{2,}")


def short_hash(*parts: str) -> str:
    """Six hex characters identifying `parts`."""
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:6]


def sanitize(text: str) -> str:
    return _UNDERSCORES.sub("_", _INVALID.sub("_", text)).strip("_-")


def with_suffix(name: str, suffix: str) -> str:
    """`name_suffix`, shortening `name` so the result fits in 64 characters."""
    room = MAX_NAME - len(suffix) - 1
    return f"{name[:room].rstrip('_-')}_{suffix}"


def base_name(operation_id: str, method: str, path: str) -> str:
    """A valid name for one operation (not yet checked for collisions)."""
    name = sanitize(operation_id) if operation_id else ""
    if not name:
        name = sanitize(f"{method.lower()}_{path}") or method.lower()
    if len(name) > MAX_NAME:
        name = with_suffix(name, short_hash(method.upper(), path))
    return name


def dedupe(entries: Iterable[tuple[str, str, str]]) -> list[str]:
    """Unique names for (name, method, path) entries: every colliding name gets a hash."""
    items = list(entries)
    counts: dict[str, int] = {}
    for name, _, _ in items:
        counts[name] = counts.get(name, 0) + 1
    result: list[str] = []
    used: set[str] = {name for name, _, _ in items if counts[name] == 1}
    for name, method, path in items:
        if counts[name] == 1:
            result.append(name)
            continue
        candidate = with_suffix(name, short_hash(method.upper(), path))
        attempt = 0
        while candidate in used:
            attempt += 1
            candidate = with_suffix(name, short_hash(method.upper(), path, str(attempt)))
        used.add(candidate)
        result.append(candidate)
    return result
