"""Catalog snapshots kept outside run history, once each, by the hash of their content.

A run's history used to hold its whole catalog snapshot, once per execution: with a spec of
10,000 operations in the registry that was megabytes in every run, though a task is only ever
offered a few functions. A catalog too large to offer whole is therefore written here once, as
JSON named by its SHA-256, and the run keeps only that reference; each task's selection is made
by an activity that reads the snapshot back, so the history holds just the functions offered.

Snapshots are files under ``TOOLMESH_CATALOG_DIR`` (owner-only), so every activity process of
the app reads the same ones; the last few are also kept in memory. Content addressing makes a
write idempotent and lets any number of runs share one snapshot.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

import orjson

from openapi_engine import Catalog

from .settings import get_settings

__all__ = ["CatalogStore", "catalog_store"]

KEPT_IN_MEMORY = 4


class CatalogStore:
    """Content-addressed catalog snapshots in ``folder``, with the most recent few in memory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, Catalog] = OrderedDict()
        # The same catalog object (a shared snapshot) is put by every run: its reference is kept,
        # so it is serialised and hashed once. Holding the object keeps its id from being reused.
        self._refs: OrderedDict[int, tuple[Catalog, str]] = OrderedDict()

    def put(self, catalog: Catalog) -> str:
        """Store ``catalog`` (once per content) and return its reference, ``sha256:<hex>``."""
        with self._lock:
            known = self._refs.get(id(catalog))
            if known is not None and known[0] is catalog:
                return known[1]
        data = orjson.dumps(catalog.to_dict(), option=orjson.OPT_SORT_KEYS)
        ref = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self._path(ref)
        if not path.exists():
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
            os.replace(partial, path)  # readers see the whole snapshot or none
        with self._lock:
            self._remember(ref, catalog)
            self._refs[id(catalog)] = (catalog, ref)
            while len(self._refs) > KEPT_IN_MEMORY:
                self._refs.popitem(last=False)
        return ref

    def get(self, ref: str) -> Catalog | None:
        """The snapshot behind ``ref``; None when this store does not hold it."""
        with self._lock:
            found = self._recent.get(ref)
            if found is not None:
                self._recent.move_to_end(ref)
                return found
        try:
            data = self._path(ref).read_bytes()
        except (FileNotFoundError, ValueError):
            return None
        catalog = Catalog.from_dict(orjson.loads(data))
        with self._lock:
            self._remember(ref, catalog)
        return catalog

    def _remember(self, ref: str, catalog: Catalog) -> None:
        self._recent[ref] = catalog
        self._recent.move_to_end(ref)
        while len(self._recent) > KEPT_IN_MEMORY:
            self._recent.popitem(last=False)

    def _path(self, ref: str) -> Path:
        algorithm, _, digest = ref.partition(":")
        if algorithm != "sha256" or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"not a catalog reference: {ref!r}")
        return self.folder / f"{digest}.json"


_stores: dict[Path, CatalogStore] = {}
_stores_lock = threading.Lock()


def catalog_store() -> CatalogStore:
    """The store in the folder the settings name (one per folder and process)."""
    folder = get_settings().catalog_dir
    with _stores_lock:
        store = _stores.get(folder)
        if store is None:
            store = _stores[folder] = CatalogStore(folder)
        return store
