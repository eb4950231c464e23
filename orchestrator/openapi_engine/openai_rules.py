"""The rules OpenAI (and Azure OpenAI) enforce on function tools, checked offline.

A request with one bad tool fails as a whole (HTTP 400), so every emitted function is
checked here first: name pattern and length, description length, tool count, and for
`strict: true` the structured-outputs subset — object root, `additionalProperties:
false` and every property required on each object, only supported keywords, and the
nesting, property, enum and size limits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "MAX_ENUM_VALUES",
    "MAX_FUNCTION_NAME",
    "MAX_NESTING",
    "MAX_PROPERTIES",
    "MAX_SCHEMA_STRING_CHARS",
    "MAX_TOOLS",
    "NAME_PATTERN",
    "check_strict_schema",
    "check_tools",
]

NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MAX_FUNCTION_NAME = 64
MAX_DESCRIPTION = 1024
MAX_TOOLS = 128
MAX_NESTING = 10
MAX_PROPERTIES = 5000
MAX_ENUM_VALUES = 1000
MAX_SCHEMA_STRING_CHARS = 120_000
MAX_LARGE_ENUM_CHARS = 15_000
STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
FORBIDDEN_KEYWORDS = frozenset(
    {"allOf", "oneOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
     "patternProperties", "default", "minLength", "maxLength", "uniqueItems", "minProperties",
     "maxProperties", "contains", "prefixItems", "unevaluatedProperties", "propertyNames"}
)  # fmt: skip
ALLOWED_KEYWORDS = frozenset(
    {"type", "description", "properties", "required", "additionalProperties", "items", "enum", "const",
     "anyOf", "$ref", "$defs", "pattern", "format", "multipleOf", "maximum", "exclusiveMaximum",
     "minimum", "exclusiveMinimum", "minItems", "maxItems", "title"}
)  # fmt: skip


def check_tools(tools: Sequence[Mapping[str, Any]], *, max_tools: int = MAX_TOOLS) -> list[str]:
    """Every rule a list of `{"type": "function", ...}` tools breaks; empty when valid."""
    problems: list[str] = []
    if len(tools) > max_tools:
        problems.append(f"tools: {len(tools)} tools, over the limit of {max_tools}")
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if tool.get("type") != "function" or not isinstance(tool.get("function"), Mapping):
            problems.append(f"{where}: must be {{'type': 'function', 'function': {{...}}}}")
            continue
        fn = tool["function"]
        name = fn.get("name")
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            problems.append(f"{where}.function.name: {name!r} does not match {NAME_PATTERN.pattern}")
        elif name in seen:
            problems.append(f"{where}.function.name: {name!r} is used twice")
        else:
            seen.add(name)
        description = fn.get("description")
        if description is not None and (
            not isinstance(description, str) or len(description) > MAX_DESCRIPTION
        ):
            problems.append(f"{where}.function.description: longer than {MAX_DESCRIPTION} characters")
        params = fn.get("parameters")
        if not isinstance(params, Mapping) or params.get("type") != "object":
            problems.append(f"{where}.function.parameters: must be a JSON schema of type object")
            continue
        if fn.get("strict") is True:
            problems.extend(f"{where}.function.parameters{p}" for p in check_strict_schema(params))
    return problems


def check_strict_schema(schema: Mapping[str, Any]) -> list[str]:
    """Every strict-mode rule `schema` breaks, each prefixed with its location."""
    problems: list[str] = []
    if schema.get("type") != "object" or "anyOf" in schema:
        problems.append(": the root must be an object, not anyOf")
    defs = schema.get("$defs") or {}
    state = {"properties": 0, "enums": 0, "chars": sum(len(n) for n in defs)}
    _check(schema, "", 1, problems, state, defs)
    for name, sub in defs.items():
        _check(sub, f"/$defs/{name}", 1, problems, state, defs)
    if state["properties"] > MAX_PROPERTIES:
        problems.append(f": {state['properties']} properties exceeds limit of {MAX_PROPERTIES}")
    if state["enums"] > MAX_ENUM_VALUES:
        problems.append(f": {state['enums']} enum values exceeds limit of {MAX_ENUM_VALUES}")
    if state["chars"] > MAX_SCHEMA_STRING_CHARS:
        problems.append(
            f": {state['chars']} characters of names and enum values exceeds {MAX_SCHEMA_STRING_CHARS}"
        )
    return problems


def _types(node: Mapping[str, Any]) -> list[str]:
    kind = node.get("type")
    return [kind] if isinstance(kind, str) else [k for k in kind or [] if isinstance(k, str)]


def _check(
    node: Any, where: str, depth: int, problems: list[str], state: dict[str, int], defs: Mapping[str, Any]
) -> None:
    if not isinstance(node, Mapping):
        problems.append(f"{where}: schema must be an object")
        return
    if depth > MAX_NESTING:
        problems.append(f"{where}: {depth} levels of nesting exceeds limit of {MAX_NESTING}")
        return
    for key in node:
        if key in FORBIDDEN_KEYWORDS or (key not in ALLOWED_KEYWORDS and not key.startswith("x-")):
            problems.append(f"{where}: '{key}' is not permitted")
    ref = node.get("$ref")
    if ref is not None:
        if not (ref == "#" or (isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs)):
            problems.append(f"{where}: $ref {ref!r} must point into #/$defs")
        return
    if "anyOf" in node:
        for i, branch in enumerate(node["anyOf"]):
            _check(branch, f"{where}/anyOf/{i}", depth, problems, state, defs)
        return
    kinds = _types(node)
    if not kinds and "enum" not in node and "const" not in node:
        problems.append(f"{where}: a type is required")
    fmt = node.get("format")
    if fmt is not None and fmt not in STRICT_FORMATS:
        problems.append(f"{where}: format {fmt!r} is not supported")
    enum = node.get("enum")
    if isinstance(enum, list):
        state["enums"] += len(enum)
        chars = sum(len(v) for v in enum if isinstance(v, str))
        state["chars"] += chars
        if len(enum) > 250 and chars > MAX_LARGE_ENUM_CHARS:
            problems.append(
                f"{where}: an enum of {len(enum)} values has {chars} characters "
                f"(limit {MAX_LARGE_ENUM_CHARS})"
            )
    if "object" in kinds:
        props = node.get("properties")
        if not isinstance(props, Mapping):
            problems.append(f"{where}: object schema missing properties")
            props = {}
        if node.get("additionalProperties") is not False:
            problems.append(f"{where}: 'additionalProperties' is required to be supplied and to be false")
        required = node.get("required")
        missing = [p for p in props if not isinstance(required, list) or p not in required]
        if missing:
            problems.append(
                f"{where}: 'required' must include every key in properties; missing {missing[:5]}"
            )
        state["properties"] += len(props)
        state["chars"] += sum(len(p) for p in props)
        for prop, sub in props.items():
            _check(sub, f"{where}/properties/{prop}", depth + 1, problems, state, defs)
    if "array" in kinds:
        items = node.get("items")
        if items is None:
            problems.append(f"{where}: array schema missing items")
        else:
            _check(items, f"{where}/items", depth + 1, problems, state, defs)


def first_problems(problems: Iterable[str], limit: int = 3) -> str:
    """A short summary of the first few problems, for a reason field."""
    items = list(problems)
    head = "; ".join(items[:limit])
    return head + (f" (and {len(items) - limit} more)" if len(items) > limit else "")
