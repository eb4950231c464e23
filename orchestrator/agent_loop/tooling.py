"""Which functions a run and each of its tasks may use, and which calls need a person's approval.

Pure functions over the catalog snapshot that lives in history, so replays choose the same tools.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rank_bm25 import BM25Okapi

from openapi_engine import Catalog, ToolFunction

__all__ = ["FunctionIndex", "catalog_for_run", "functions_for_run", "needs_approval", "select_for_task"]

_WORD = re.compile(r"[a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def _words(text: str) -> list[str]:
    return _WORD.findall(_CAMEL.sub(" ", text).lower())


def catalog_for_run(catalog: Catalog, wanted: Sequence[str] | None) -> Catalog:
    """The part of the catalog a run may use: whole tools by name or tag, single functions by name; all when None.

    The load_catalog activity keeps only this part in the run's history, so a run that asks for
    one tool does not replay the schemas of every other tool at every step.
    """
    if wanted is None:
        return catalog
    whole = {name for name, info in catalog.tools.items() if name in wanted or set(info.tags) & set(wanted)}
    functions = [f for f in catalog.functions if f.tool in whole or f.name in wanted]
    chosen = {f.tool for f in functions} | whole
    return Catalog(
        tools={name: info for name, info in catalog.tools.items() if name in chosen},
        functions=functions,
        problems=[p for p in catalog.problems if p.tool is None or p.tool in chosen],
    )


def functions_for_run(catalog: Catalog, wanted: Sequence[str] | None) -> list[ToolFunction]:
    """The catalog's functions of the tools a run asked for, by tool name or tag; all when None."""
    return list(catalog_for_run(catalog, wanted).functions)


def select_for_task(
    functions: Sequence[ToolFunction], task: str, limit: int
) -> tuple[list[ToolFunction], list[str] | None]:
    """All functions when they fit in ``limit``; otherwise the ``limit`` most relevant to the task.

    Returns the functions and, when a selection was made, their names for the record.
    """
    return FunctionIndex(functions).select(task, limit)


class FunctionIndex:
    """The functions of a catalog and their BM25 index, built on first use and kept for later tasks."""

    def __init__(self, functions: Sequence[ToolFunction]) -> None:
        self.functions = list(functions)
        self._bm25: BM25Okapi | None = None

    def select(self, task: str, limit: int) -> tuple[list[ToolFunction], list[str] | None]:
        """As :func:`select_for_task`."""
        functions = self.functions
        if len(functions) <= limit:
            return list(functions), None
        if self._bm25 is None:
            self._bm25 = BM25Okapi([_words(f"{f.name} {f.tool} {f.operation_id} {f.description}") for f in functions])
        scores = self._bm25.get_scores(_words(task))
        ranked = sorted(range(len(functions)), key=lambda i: (-scores[i], i))[:limit]
        chosen = [functions[i] for i in sorted(ranked)]
        return chosen, [f.name for f in chosen]


def needs_approval(function: ToolFunction, overrides: Mapping[str, str]) -> bool:
    """The run's override for the function, else for its tool, else what the registry and spec say.

    A run's override only tightens what the spec requires or the registry always asks for: its
    ``never`` relaxes the registry's safe-methods policy, not a demanded approval.
    """
    if function.approval_required:
        return True
    for key in (function.name, function.tool):
        choice = overrides.get(key, "default")
        if choice == "always":
            return True
        if choice == "never":
            return False
    return function.needs_approval
