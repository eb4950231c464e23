"""Deriving the strict-mode variant of a parameter schema.

OpenAI's strict mode guarantees arguments that match the schema, but accepts only a
subset of JSON Schema: every object closed and fully required (optional fields become
null-unions, and `invoke` treats null as "omitted"), no `allOf`/`oneOf`/`not`, a short
list of formats, bounded nesting and size. Keywords that only narrow values (lengths,
defaults) are dropped — the non-strict schema still validates arguments before any
request. When a schema cannot be expressed (a free-form object, an untyped value) the
function keeps its non-strict schema and records why.
"""

from __future__ import annotations

from typing import Any

from .openai_rules import STRICT_FORMATS, StrictLimits, check_strict_schema, first_problems
from .schemas import make_nullable

__all__ = ["StrictError", "to_strict"]

_DROP = frozenset({"default", "minLength", "maxLength", "uniqueItems", "minProperties", "maxProperties", "title"})
_KEEP = frozenset(
    {"type", "description", "enum", "const", "pattern", "multipleOf", "maximum", "exclusiveMaximum",
     "minimum", "exclusiveMinimum", "minItems", "maxItems", "$ref"}
)  # fmt: skip


class StrictError(ValueError):
    """The schema has no strict-mode equivalent; the message says where and why."""


def to_strict(
    schema: dict[str, Any], *, limits: StrictLimits | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """(strict schema, None) or (None, reason); `limits` default to OpenAI's current ones."""
    try:
        out = _node(schema, "", root=True)
        defs = schema.get("$defs")
        if isinstance(defs, dict):
            out["$defs"] = {name: _node(sub, f"/$defs/{name}") for name, sub in defs.items()}
    except StrictError as exc:
        return None, str(exc)
    problems = check_strict_schema(out, limits=limits)
    if problems:
        return None, first_problems(problems)
    return out, None


def _node(node: Any, where: str, *, root: bool = False) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise StrictError(f"{where or '/'}: boolean schemas are not supported")
    for key in ("allOf", "not", "if", "then", "else", "patternProperties", "dependentSchemas"):
        if key in node:
            raise StrictError(f"{where or '/'}: '{key}' has no strict-mode equivalent")
    if "$ref" in node:
        # A bare reference: keywords beside $ref are where strict-mode validators disagree.
        return {"$ref": node["$ref"]}
    if "anyOf" in node:
        if root:
            raise StrictError("/: the root cannot be anyOf")
        out = {k: v for k, v in node.items() if k == "description"}
        out["anyOf"] = [_node(b, f"{where}/anyOf/{i}") for i, b in enumerate(node["anyOf"])]
        return out
    out = {k: v for k, v in node.items() if k in _KEEP}
    fmt = node.get("format")
    if isinstance(fmt, str) and fmt in STRICT_FORMATS:
        out["format"] = fmt
    kinds = [node["type"]] if isinstance(node.get("type"), str) else list(node.get("type") or [])
    if not kinds and "enum" not in node and "const" not in node:
        if "properties" in node:
            kinds = ["object"]
            out["type"] = "object"
        else:
            raise StrictError(f"{where or '/'}: a value of any type has no strict-mode equivalent")
    if "object" in kinds:
        props = node.get("properties")
        if not isinstance(props, dict) or (not props and not root):
            raise StrictError(f"{where or '/'}: a free-form object has no strict-mode equivalent")
        required = set(node.get("required") or [])
        new_props: dict[str, Any] = {}
        for prop, sub in props.items():
            compiled = _node(sub, f"{where}/properties/{prop}")
            new_props[prop] = compiled if prop in required else make_nullable(compiled)
        out["properties"] = new_props
        out["required"] = list(new_props)
        out["additionalProperties"] = False
    if "array" in kinds:
        items = node.get("items")
        if not isinstance(items, dict):
            raise StrictError(f"{where or '/'}: an array without item schema has no strict-mode equivalent")
        out["items"] = _node(items, f"{where}/items")
    return out
