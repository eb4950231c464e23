"""Giving each function a self-contained, compact parameter schema.

The compiler shares definitions across a spec; a function needs only those it reaches.
`finish` prunes the rest, inlines definitions used once (or tiny ones) unless they are
recursive, so the model reads a plain nested object where it can and `$defs` only where
recursion needs them. When a schema is still over the size budget, descriptions deep in
the tree go first, then structure below a shrinking depth is summarized as its type:
a model cannot use a 60,000-token body schema anyway, and the server validates it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .errors import OperationError
from .schemas import def_name_of

__all__ = ["MAX_SCHEMA_CHARS", "finish", "json_size"]

MAX_SCHEMA_CHARS = 6000
"""Budget for one function's parameter schema, in JSON characters."""

_INLINE_SMALL_CHARS = 240
_MAX_INLINE_DEPTH = 12
_SUBSCHEMA_KEYS = ("items", "additionalProperties")


def json_size(value: Any) -> int:
    """Characters of the compact JSON text of `value`."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def _refs_in(node: Any, found: list[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = def_name_of(ref)
            if name is not None:
                found.append(name)
        for value in node.values():
            if isinstance(value, (dict, list)):
                _refs_in(value, found)
    elif isinstance(node, list):
        for value in node:
            if isinstance(value, (dict, list)):
                _refs_in(value, found)


def _reachable(root: Any, defs: Mapping[str, Any], failed: Mapping[str, str]) -> dict[str, list[str]]:
    """Definition graph reachable from `root`: name -> names it refers to (with repeats)."""
    start: list[str] = []
    _refs_in(root, start)
    graph: dict[str, list[str]] = {"": start}
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in graph:
            continue
        if name not in defs:
            reason = failed.get(name, f"schema {name!r} could not be resolved")
            raise OperationError("", reason)
        edges: list[str] = []
        _refs_in(defs[name], edges)
        graph[name] = edges
        todo.extend(edges)
    return graph


def _recursive(graph: Mapping[str, list[str]]) -> set[str]:
    """Names on a cycle (iterative Tarjan strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: set[str] = set()
    counter = 0
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, pos = work.pop()
            if pos == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            edges = graph.get(node, [])
            if pos < len(edges):
                work.append((node, pos + 1))
                nxt = edges[pos]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1 or node in graph.get(node, []):
                    result.update(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result


def finish(
    root: dict[str, Any], defs: Mapping[str, Any], failed: Mapping[str, str]
) -> tuple[dict[str, Any], str | None]:
    """A self-contained schema for `root` and, when it had to be shortened, why."""
    graph = _reachable(root, defs, failed)
    if len(graph) == 1:
        return _budget(root)
    counts: dict[str, int] = {}
    for edges in graph.values():
        for name in edges:
            counts[name] = counts.get(name, 0) + 1
    recursive = _recursive(graph)
    inline = {
        name
        for name in graph
        if name and name not in recursive and (counts.get(name, 0) == 1 or json_size(defs[name]) <= _INLINE_SMALL_CHARS)
    }

    def expand(node: Any, depth: int) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                name = def_name_of(ref)
                if name in inline and depth < _MAX_INLINE_DEPTH:
                    body = expand(defs[name], depth + 1)
                    extra = {k: v for k, v in node.items() if k != "$ref"}
                    return {**body, **extra} if extra else body
            return {k: (expand(v, depth) if isinstance(v, (dict, list)) else v) for k, v in node.items()}
        if isinstance(node, list):
            return [expand(v, depth) if isinstance(v, (dict, list)) else v for v in node]
        return node

    result = expand(root, 0)
    kept: dict[str, Any] = {}
    todo: list[str] = []
    _refs_in(result, todo)
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        kept[name] = expand(defs[name], 0)
        _refs_in(kept[name], todo)
    if kept:
        result["$defs"] = dict(sorted(kept.items()))
    return _budget(result)


def _budget(schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    if json_size(schema) <= MAX_SCHEMA_CHARS:
        return schema, None
    shortened = _strip_descriptions(schema, 0)
    if json_size(shortened) <= MAX_SCHEMA_CHARS:
        return shortened, "descriptions of nested fields removed to fit the size budget"
    for limit in (5, 4, 3, 2):
        cut = _summarize_below(shortened, 0, limit)
        cut.pop("$defs", None)
        used: list[str] = []
        _refs_in(cut, used)
        defs = shortened.get("$defs") or {}
        if used:
            cut["$defs"] = {name: _summarize_below(defs[name], 1, limit - 1) for name in sorted(set(used))}
            more: list[str] = []
            _refs_in(cut["$defs"], more)
            for name in sorted(set(more) - set(cut["$defs"])):
                cut["$defs"][name] = {"type": "object"}
        if json_size(cut) <= MAX_SCHEMA_CHARS:
            return cut, f"structure below depth {limit} summarized to fit the size budget"
    return _strip_descriptions(cut, 0, keep_root=True), "nested structure summarized and field descriptions removed"


def _strip_descriptions(node: Any, depth: int, *, keep_root: bool = False) -> Any:
    """Drop descriptions below the argument level (or all but the root's, with `keep_root`)."""
    floor = 1 if keep_root else 3
    if isinstance(node, dict):
        return {
            k: _strip_descriptions(v, depth + 1, keep_root=keep_root)
            for k, v in node.items()
            if not (k == "description" and depth >= floor)
        }
    if isinstance(node, list):
        return [_strip_descriptions(v, depth + 1, keep_root=keep_root) for v in node]
    return node


def _summarize_below(node: dict[str, Any], depth: int, limit: int) -> dict[str, Any]:
    """Keep `node` to `limit` levels of properties; deeper schemas become their bare type."""
    if depth >= limit:
        kind = node.get("type")
        if kind is None and "$ref" in node:
            kind = "object"
        summary: dict[str, Any] = {"type": kind} if kind else {}
        if "enum" in node:
            summary["enum"] = node["enum"]
        return summary
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            out[key] = {p: _summarize_below(s, depth + 1, limit) for p, s in value.items() if isinstance(s, dict)}
        elif key in _SUBSCHEMA_KEYS and isinstance(value, dict):
            out[key] = _summarize_below(value, depth + 1, limit)
        elif key in ("anyOf", "allOf") and isinstance(value, list):
            out[key] = [_summarize_below(v, depth + 1, limit) for v in value if isinstance(v, dict)]
        elif key == "$defs":
            continue
        else:
            out[key] = value
    return out
