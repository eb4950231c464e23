"""Building the run's catalog: every enabled tool's spec, loaded and converted.

A tool whose spec cannot be loaded is reported in `catalog.problems` and left out; the
other tools still load. Function names are unique across the catalog: when two tools
produce the same name, both get their tool name as a prefix, so the result does not
depend on the order tools are listed in. Entries of another kind than `openapi` (MCP
servers) are read by the loader given for that kind and go through the same naming.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import httpx

from .conversion_cache import ConversionCache
from .converter import ConversionOptions, ConvertedSpec, convert_document, load_and_convert, with_size
from .documents import parse_document, read_source
from .errors import SpecLoadError
from .models import Catalog, Problem, ToolFunction, ToolInfo
from .naming import MAX_NAME, short_hash, with_suffix
from .registry import Registry, ToolEntry

__all__ = ["EntryLoader", "build_catalog", "options_for"]

EntryLoader = Callable[[ToolEntry], ConvertedSpec]
"""Reads the functions of a registry entry of one kind; raises SpecLoadError when it cannot."""


def options_for(entry: ToolEntry) -> ConversionOptions:
    """Conversion options from a registry entry."""
    return ConversionOptions(
        tool=entry.name,
        auth=entry.auth,
        include_tags=entry.include.tags,
        include_operations=entry.include.operations,
        include_methods=entry.include.methods,
        exclude_tags=entry.exclude.tags,
        exclude_operations=entry.exclude.operations,
        exclude_methods=entry.exclude.methods,
        approval=entry.approval,
        approval_overrides=entry.approval_overrides,
        waits=entry.waits,
        allowed_hosts=entry.allowed_ref_hosts,
    )


def _convert(entry: ToolEntry, http: httpx.Client | None, cache: ConversionCache | None) -> ConvertedSpec:
    options = options_for(entry)
    if cache is None:
        return load_and_convert(entry.spec, options, client=http)
    text = read_source(entry.spec, client=http)
    return cache.get_or_convert(
        entry.spec,
        text,
        options,
        lambda: convert_document(parse_document(text, entry.spec), entry.spec, options, client=http),
    )


def build_catalog(
    registry: Registry,
    *,
    client: httpx.Client | None = None,
    only: Sequence[str] | None = None,
    cache: ConversionCache | None = None,
    loaders: Mapping[str, EntryLoader] | None = None,
) -> Catalog:
    """Load and convert every enabled tool (or those named in `only`).

    Every spec is read afresh; with a `cache`, a spec whose text and options are unchanged is
    not converted again.
    """
    problems: list[Problem] = []
    per_tool: dict[str, list[ToolFunction]] = {}
    entries: dict[str, ToolEntry] = {}
    wanted = set(only) if only is not None else None
    if wanted is not None:
        for name in sorted(wanted - set(registry.tools)):
            problems.append(Problem(tool=name, operation=None, pointer=None, reason="not in the registry"))
    own_client = client is None and any(
        e.kind == "openapi" and e.spec.startswith(("http://", "https://")) for e in registry.enabled()
    )
    http = httpx.Client(timeout=httpx.Timeout(30.0)) if own_client else client
    try:
        for entry in registry.enabled():
            if wanted is not None and entry.name not in wanted:
                continue
            loader = (loaders or {}).get(entry.kind)
            if entry.kind != "openapi" and loader is None:
                reason = f"{entry.kind} tools are not loaded here"
                problems.append(Problem(tool=entry.name, operation=None, pointer=None, reason=reason))
                continue
            try:
                converted = loader(entry) if loader is not None else _convert(entry, http, cache)
            except SpecLoadError as exc:
                problems.append(Problem(tool=entry.name, operation=None, pointer=exc.pointer, reason=str(exc)))
                continue
            per_tool[entry.name] = converted.functions
            entries[entry.name] = entry
            problems.extend(converted.problems)
    finally:
        if own_client and http is not None:
            http.close()
    functions = _unique_across_tools(per_tool)
    tools: dict[str, ToolInfo] = {}
    for name, entry in entries.items():
        mine = [fn for fn in functions if fn.tool == name]
        size = sum(fn.size_chars for fn in mine)
        tools[name] = ToolInfo(
            name=name,
            base_url=entry.base_url,
            spec=entry.spec,
            auth=dict(entry.auth),
            timeout_seconds=entry.timeout_seconds,
            tags=list(entry.tags),
            functions=[fn.name for fn in mine],
            size_chars=size,
            approx_tokens=sum(fn.approx_tokens for fn in mine),
        )
    return Catalog(tools=tools, functions=functions, problems=problems)


def _unique_across_tools(per_tool: dict[str, list[ToolFunction]]) -> list[ToolFunction]:
    owners: dict[str, set[str]] = {}
    for tool, functions in per_tool.items():
        for fn in functions:
            owners.setdefault(fn.name, set()).add(tool)
    result: list[ToolFunction] = []
    used: set[str] = set()
    for tool, functions in per_tool.items():
        for fn in functions:
            name = fn.name
            if len(owners[name]) > 1:
                prefixed = f"{tool}_{name}"
                name = (
                    prefixed
                    if len(prefixed) <= MAX_NAME
                    else with_suffix(prefixed, short_hash(tool, fn.method, fn.path))
                )
            if name in used:
                name = with_suffix(name, short_hash(tool, fn.method, fn.path))
            used.add(name)
            result.append(with_size(dataclasses.replace(fn, name=name)) if name != fn.name else fn)
    return result
