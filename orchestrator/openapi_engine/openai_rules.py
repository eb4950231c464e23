"""The rules OpenAI (and Azure OpenAI) enforce on function tools, checked offline.

A request with one bad tool fails as a whole (HTTP 400), so every emitted function is
checked here first: name pattern and length, description length, tool count, and for
`strict: true` the structured-outputs subset — object root, `additionalProperties:
false` and every property required on each object, only supported keywords, and the
nesting, property, enum and size limits.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "LEGACY_STRICT_LIMITS",
    "MAX_ENUM_VALUES",
    "MAX_FUNCTION_NAME",
    "MAX_NESTING",
    "MAX_PROPERTIES",
    "MAX_SCHEMA_STRING_CHARS",
    "MAX_TOOLS",
    "NAME_PATTERN",
    "StrictLimits",
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
STRICT_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})
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


def check_tools(
    tools: Sequence[Mapping[str, Any]], *, max_tools: int = MAX_TOOLS, limits: StrictLimits | None = None
) -> list[str]:
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
        if description is not None and (not isinstance(description, str) or len(description) > MAX_DESCRIPTION):
            problems.append(f"{where}.function.description: longer than {MAX_DESCRIPTION} characters")
        params = fn.get("parameters")
        if not isinstance(params, Mapping) or params.get("type") != "object":
            problems.append(f"{where}.function.parameters: must be a JSON schema of type object")
            continue
        if fn.get("strict") is True:
            problems.extend(f"{where}.function.parameters{p}" for p in check_strict_schema(params, limits=limits))
    return problems


@dataclasses.dataclass(frozen=True, kw_only=True)
class StrictLimits:
    """Size limits of strict mode; the defaults are OpenAI's current ones."""

    max_nesting: int = MAX_NESTING
    max_properties: int = MAX_PROPERTIES
    max_enum_values: int = MAX_ENUM_VALUES
    max_string_chars: int = MAX_SCHEMA_STRING_CHARS
    max_large_enum_chars: int = MAX_LARGE_ENUM_CHARS


LEGACY_STRICT_LIMITS = StrictLimits(
    max_nesting=5,
    max_properties=100,
    max_enum_values=500,
    max_string_chars=15_000,
    max_large_enum_chars=7_500,
)
"""The launch-era limits some Azure OpenAI deployments still document (probe per deployment)."""


@dataclasses.dataclass(kw_only=True)
class _Walk:
    defs: Mapping[str, Any]
    limits: StrictLimits
    problems: list[str] = dataclasses.field(default_factory=list)
    properties: int = 0
    enums: int = 0
    chars: int = 0


def check_strict_schema(schema: Mapping[str, Any], *, limits: StrictLimits | None = None) -> list[str]:
    """Every strict-mode rule `schema` breaks, each prefixed with its location."""
    limits = limits or StrictLimits()
    defs = schema.get("$defs") or {}
    walk = _Walk(defs=defs, limits=limits, chars=sum(len(n) for n in defs))
    if schema.get("type") != "object" or "anyOf" in schema:
        walk.problems.append(": the root must be an object, not anyOf")
    _check(schema, "", 1, walk)
    for name, sub in defs.items():
        _check(sub, f"/$defs/{name}", 1, walk)
    if walk.properties > limits.max_properties:
        walk.problems.append(f": {walk.properties} properties exceeds limit of {limits.max_properties}")
    if walk.enums > limits.max_enum_values:
        walk.problems.append(f": {walk.enums} enum values exceeds limit of {limits.max_enum_values}")
    if walk.chars > limits.max_string_chars:
        walk.problems.append(f": {walk.chars} characters of names and enum values exceeds {limits.max_string_chars}")
    return walk.problems


def _types(node: Mapping[str, Any]) -> list[str]:
    kind = node.get("type")
    return [kind] if isinstance(kind, str) else [k for k in kind or [] if isinstance(k, str)]


def _check(node: Any, where: str, depth: int, walk: _Walk) -> None:
    problems, limits = walk.problems, walk.limits
    if not isinstance(node, Mapping):
        problems.append(f"{where}: schema must be an object")
        return
    if depth > limits.max_nesting:
        problems.append(f"{where}: {depth} levels of nesting exceeds limit of {limits.max_nesting}")
        return
    for key in node:
        if key in FORBIDDEN_KEYWORDS or (key not in ALLOWED_KEYWORDS and not key.startswith("x-")):
            problems.append(f"{where}: '{key}' is not permitted")
    ref = node.get("$ref")
    if ref is not None:
        if not (ref == "#" or (isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in walk.defs)):
            problems.append(f"{where}: $ref {ref!r} must point into #/$defs")
        return
    if "anyOf" in node:
        for i, branch in enumerate(node["anyOf"]):
            _check(branch, f"{where}/anyOf/{i}", depth, walk)
        return
    kinds = _types(node)
    if not kinds and "enum" not in node and "const" not in node:
        problems.append(f"{where}: a type is required")
    fmt = node.get("format")
    if fmt is not None and fmt not in STRICT_FORMATS:
        problems.append(f"{where}: format {fmt!r} is not supported")
    enum = node.get("enum")
    if isinstance(enum, list):
        walk.enums += len(enum)
        chars = sum(len(v) for v in enum if isinstance(v, str))
        walk.chars += chars
        if len(enum) > 250 and chars > limits.max_large_enum_chars:
            problems.append(
                f"{where}: an enum of {len(enum)} values has {chars} characters (limit {limits.max_large_enum_chars})"
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
            problems.append(f"{where}: 'required' must include every key in properties; missing {missing[:5]}")
        walk.properties += len(props)
        walk.chars += sum(len(p) for p in props)
        for prop, sub in props.items():
            _check(sub, f"{where}/properties/{prop}", depth + 1, walk)
    if "array" in kinds:
        items = node.get("items")
        if items is None:
            problems.append(f"{where}: array schema missing items")
        else:
            _check(items, f"{where}/items", depth + 1, walk)


def first_problems(problems: Iterable[str], limit: int = 3) -> str:
    """A short summary of the first few problems, for a reason field."""
    items = list(problems)
    head = "; ".join(items[:limit])
    return head + (f" (and {len(items) - limit} more)" if len(items) > limit else "")
