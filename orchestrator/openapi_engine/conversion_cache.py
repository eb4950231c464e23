"""Reusing the conversion of a spec whose text has not changed.

Every run reads the registry and every tool's spec afresh, so a tool deployed or changed a
minute ago is used by the next run. Fetching a spec is cheap; converting it (resolving refs,
shaping schemas, strict variants) is not, and hundreds of runs starting together would
convert the same unchanged text hundreds of times. The cache is keyed by the spec's bytes and
the registry's options for it, so any change to either converts again. A converted spec can
also depend on documents its external `$ref`s point to, which the key does not cover: entries
therefore expire after ``ttl_seconds``, which bounds how long such a change can go unseen.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from .converter import ConversionOptions, ConvertedSpec

__all__ = ["ConversionCache"]

DEFAULT_TTL_SECONDS = 60.0
DEFAULT_MAX_ENTRIES = 256


def _key(source: str, text: bytes, options: ConversionOptions) -> str:
    digest = hashlib.sha256()
    digest.update(source.encode())
    digest.update(b"\0")
    digest.update(text)
    digest.update(b"\0")
    digest.update(json.dumps(dataclasses.asdict(options), sort_keys=True, default=list).encode())
    return digest.hexdigest()


class ConversionCache:
    """A small thread-safe LRU of converted specs; activities run on several threads."""

    def __init__(
        self,
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, ConvertedSpec]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_or_convert(
        self, source: str, text: bytes, options: ConversionOptions, convert: Callable[[], ConvertedSpec]
    ) -> ConvertedSpec:
        """The cached conversion of ``text`` with ``options``, or ``convert()``'s result, stored.

        A conversion that raises is not stored: a broken spec is reported again on the next read.
        """
        key = _key(source, text, options)
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and now - entry[0] <= self._ttl:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1]
            self.misses += 1
        converted = convert()
        with self._lock:
            self._entries[key] = (now, converted)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return converted

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
