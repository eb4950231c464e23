"""From an MCP server's tool list to functions the model can call.

MCP tools already carry JSON Schema, but not in the shape models need: they go through
the same compiler, shaping and strict derivation as OpenAPI operations, so `$defs`,
`oneOf`, `nullable`-style unions and oversized schemas are handled once, the same way.
A function keeps the server's own tool name (`operation_id` and `path`) for the call;
`method` is `MCP`, which is how the rest of the app tells the two protocols apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mcp.types import Tool

from openapi_engine import ConvertedSpec, Problem, SecurityBinding, ToolFunction
from openapi_engine.converter import with_size
from openapi_engine.errors import RefError
from openapi_engine.naming import base_name, dedupe
from openapi_engine.refs import Resolver
from openapi_engine.registry import ToolEntry
from openapi_engine.schemas import SchemaCompiler
from openapi_engine.shaping import finish
from openapi_engine.strict import to_strict
from openapi_engine.text import clean_text

__all__ = ["MCP_METHOD", "convert_tools", "header_bindings", "is_mcp"]

MCP_METHOD = "MCP"
BEARER = "bearer"
"""The `auth` key that sends its setting as `Authorization: Bearer <value>`."""


def is_mcp(function: ToolFunction) -> bool:
    return function.method == MCP_METHOD


def header_bindings(auth: Mapping[str, str]) -> list[list[SecurityBinding]]:
    """The entry's credentials as one alternative of headers (all are sent together)."""
    bindings = [
        SecurityBinding(
            scheme=header,
            kind="bearer" if header.lower() == BEARER else "apiKey",
            location="header",
            param_name="Authorization" if header.lower() == BEARER else header,
            setting=setting,
        )
        for header, setting in auth.items()
    ]
    return [bindings] if bindings else []


def _selected(name: str, entry: ToolEntry) -> bool:
    if entry.include.operations and name not in entry.include.operations:
        return False
    return name not in entry.exclude.operations


def _approval(tool: Tool, entry: ToolEntry) -> tuple[bool, bool]:
    """Whether a call asks a person first, and whether that is demanded (the registry's `always`).

    The registry's word first; under the default policy only tools marked read-only run
    unasked. The protocol's defaults are `readOnlyHint: false` and `destructiveHint: true`, so a
    tool that says nothing about itself is treated as one that may destroy something.
    """
    policy = entry.approval_overrides.get(tool.name) or entry.approval
    if policy in ("always", "required"):
        return True, True
    if policy == "never":
        return False, False
    annotations = tool.annotations
    return not (annotations is not None and annotations.read_only_hint is True), False


def _description(tool: Tool) -> str:
    title = tool.title or (tool.annotations.title if tool.annotations else None)
    text = clean_text(" — ".join(t for t in (title, tool.description) if t))
    return text or f"Calls the MCP tool {tool.name}."


def _schema(tool: Tool, source: str) -> tuple[dict[str, Any], str | None]:
    raw = tool.input_schema if isinstance(tool.input_schema, dict) else {}
    document = {"type": "object", "properties": {}, **raw}
    resolver = Resolver(document, source)
    compiler = SchemaCompiler(resolver, openapi_version="3.1")
    compiled = compiler.compile(document, resolver.source)
    if compiled.get("type") != "object":
        compiled = {"type": "object", "properties": {}}
    return finish(compiled, compiler.defs, compiler.failed)


def convert_tools(entry: ToolEntry, tools: Iterable[Tool]) -> ConvertedSpec:
    """The functions of the entry's selected tools; a tool whose schema cannot be read is a problem."""
    drafts: list[tuple[Tool, dict[str, Any], str | None]] = []
    problems: list[Problem] = []
    for tool in tools:
        if not _selected(tool.name, entry):
            continue
        try:
            schema, note = _schema(tool, entry.spec)
        except (RefError, RecursionError) as exc:
            reason = "input schema nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            problems.append(Problem(tool=entry.name, operation=tool.name, pointer="/inputSchema", reason=reason))
            continue
        drafts.append((tool, schema, note))
    names = dedupe((base_name(t.name, MCP_METHOD, t.name), MCP_METHOD, t.name) for t, _, _ in drafts)
    security = header_bindings(entry.auth)
    functions = []
    for (tool, schema, note), name in zip(drafts, names, strict=True):
        strict_schema, strict_reason = to_strict(schema)
        needs_approval, approval_required = _approval(tool, entry)
        functions.append(
            with_size(
                ToolFunction(
                    name=name,
                    tool=entry.name,
                    operation_id=tool.name,
                    method=MCP_METHOD,
                    path=tool.name,
                    description=_description(tool),
                    parameters=schema,
                    strict_parameters=strict_schema,
                    strict_reason=strict_reason,
                    needs_approval=needs_approval,
                    approval_required=approval_required,
                    security=security,
                    schema_note=note,
                )
            )
        )
    return ConvertedSpec(source=entry.spec, title=entry.name, functions=functions, problems=problems)
