"""Compiling OpenAPI schemas into compact JSON Schema (2020-12) for models.

One `SchemaCompiler` serves a whole spec: every referenced schema is compiled once into
a shared definition (`#/$defs/<name>`), so a spec with 1,400 schemas and 300 operations
does the work once. References are queued, never followed recursively, so a circular or
very long chain of references costs one entry per schema. Along the way the OpenAPI
dialect is normalized: `nullable` becomes a `"null"` type, `oneOf` becomes `anyOf`,
`allOf` is merged when the parts are objects, boolean `exclusiveMinimum` (3.0) becomes
numeric, `readOnly` properties disappear from requests, and keywords that only document
(examples, xml, titles, extensions) are dropped to keep schemas small.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from typing import Any

from .errors import RefError
from .refs import Resolver
from .text import short_text

__all__ = ["DEFS_PREFIX", "MAX_SCHEMA_DEPTH", "SchemaCompiler", "def_name_of"]

DEFS_PREFIX = "#/$defs/"
MAX_SCHEMA_DEPTH = 32
"""Inline nesting compiled before a subschema is replaced by a placeholder."""

SCHEMA_DESCRIPTION_CHARS = 160
"""Longest description kept inside a schema (the function description may be longer)."""

_COPY_KEYS = (
    "format", "pattern", "minimum", "maximum", "multipleOf", "minLength", "maxLength",
    "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "const",
)  # fmt: skip
_WIDTH_FORMATS = frozenset({"int32", "int64", "float", "double"})
"""Formats that only state a storage width: the type already says enough to a model."""
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")


def def_name_of(ref: str) -> str | None:
    """The definition name of a compiled `{"$ref": "#/$defs/<name>"}`, else None."""
    return ref[len(DEFS_PREFIX) :] if ref.startswith(DEFS_PREFIX) else None


class SchemaCompiler:
    """Compiles schemas of one spec; shared definitions live in `defs`."""

    def __init__(self, resolver: Resolver, *, openapi_version: str = "3.1") -> None:
        self._resolver = resolver
        self._v30 = openapi_version.startswith("3.0")
        self.defs: dict[str, dict[str, Any]] = {}
        """Compiled definitions by name."""
        self.failed: dict[str, str] = {}
        """Definitions that could not be compiled, with the reason."""
        self._names: dict[str, str] = {}
        self._taken: set[str] = set()
        self._pending: dict[str, tuple[Any, str]] = {}
        self._queue: deque[str] = deque()
        self._busy: set[str] = set()

    def compile(self, schema: Any, doc: str) -> dict[str, Any]:
        """Compile one schema found in document `doc`, then every definition it needs."""
        result = self._node(schema, doc, 0)
        self._drain()
        return result

    def body_of(self, schema: dict[str, Any]) -> dict[str, Any] | None:
        """The compiled body behind a `$ref` schema (or the schema itself)."""
        ref = schema.get("$ref") if len(schema) == 1 else None
        if isinstance(ref, str):
            name = def_name_of(ref)
            return self.defs.get(name) if name else None
        return schema

    # -- references -------------------------------------------------------------------

    def _ref(self, ref: object, doc: str) -> str:
        hit = self._resolver.resolve(ref, doc)
        name = self._names.get(hit.key)
        if name is None:
            name = self._new_name(hit.key)
            self._names[hit.key] = name
            self._pending[name] = (hit.node, hit.doc)
            self._queue.append(name)
        return name

    def _new_name(self, key: str) -> str:
        tail = key.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~") if "#" in key else key
        if not tail or tail.endswith("#"):
            tail = key.split("#", 1)[0].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        base = _NAME_CHARS.sub("_", tail).strip("_.-")[:48] or "Schema"
        name = base
        if name in self._taken:
            name = f"{base}_{hashlib.sha1(key.encode()).hexdigest()[:6]}"
        self._taken.add(name)
        return name

    def _drain(self) -> None:
        while self._queue:
            name = self._queue.popleft()
            self._ensure(name)

    def _ensure(self, name: str) -> dict[str, Any] | None:
        """Compile definition `name` now if needed; None while it is being compiled (a cycle)."""
        if name in self.defs:
            return self.defs[name]
        if name in self._busy or name in self.failed:
            return None
        node, doc = self._pending[name]
        self._busy.add(name)
        try:
            self.defs[name] = self._node(node, doc, 1)
        except RefError as exc:
            self.failed[name] = str(exc)
            return None
        except RecursionError:
            self.failed[name] = "schema is nested too deeply"
            return None
        finally:
            self._busy.discard(name)
        return self.defs[name]

    # -- one schema node --------------------------------------------------------------

    def _node(self, schema: Any, doc: str, depth: int) -> dict[str, Any]:
        if not isinstance(schema, dict):
            return {} if schema is not False else {"not": {}}
        if depth > MAX_SCHEMA_DEPTH:
            return {"description": "(nested too deeply; structure omitted)"}
        if "$ref" in schema:
            out: dict[str, Any] = {"$ref": DEFS_PREFIX + self._ref(schema["$ref"], doc)}
            if schema.get("nullable") is True:
                out = {"anyOf": [out, {"type": "null"}]}
            description = short_text(schema.get("description"), SCHEMA_DESCRIPTION_CHARS)
            if description:
                out["description"] = description
            return out
        out = {}
        kind = schema.get("type")
        if isinstance(kind, str):
            out["type"] = "string" if kind == "file" else kind
        elif isinstance(kind, list):
            kinds = [k for k in kind if isinstance(k, str)]
            out["type"] = kinds[0] if len(kinds) == 1 else kinds
        description = short_text(schema.get("description"), SCHEMA_DESCRIPTION_CHARS)
        if description:
            out["description"] = description
        for key in _COPY_KEYS:
            if key in schema:
                out[key] = schema[key]
        if out.get("format") in _WIDTH_FORMATS:
            del out["format"]
        if "enum" in schema and isinstance(schema["enum"], list):
            out["enum"] = schema["enum"]
        default = schema.get("default")
        if default is not None and isinstance(default, (str, int, float, bool)) and len(str(default)) <= 80:
            out["default"] = default
        self._bounds(schema, out)
        props = schema.get("properties")
        if isinstance(props, dict):
            required = schema.get("required")
            wanted = set(required) if isinstance(required, list) else set()
            compiled: dict[str, Any] = {}
            for prop, sub in props.items():
                if isinstance(sub, dict) and sub.get("readOnly") is True:
                    wanted.discard(prop)
                    continue
                compiled[str(prop)] = self._node(sub, doc, depth + 1)
            out["properties"] = compiled
            if wanted:
                out["required"] = [p for p in compiled if p in wanted]
        elif isinstance(schema.get("required"), list):
            out["required"] = [str(p) for p in schema["required"]]
        items = schema.get("items")
        if isinstance(items, dict):
            out["items"] = self._node(items, doc, depth + 1)
        elif isinstance(items, list) and items:
            out["items"] = self._node(items[0], doc, depth + 1)
        extra = schema.get("additionalProperties")
        if extra is False:
            out["additionalProperties"] = False
        elif isinstance(extra, dict) and extra:
            out["additionalProperties"] = self._node(extra, doc, depth + 1)
        branches = [b for key in ("anyOf", "oneOf") for b in (schema.get(key) or []) if isinstance(b, dict)]
        if branches:
            compiled_branches = _unique([self._node(b, doc, depth + 1) for b in branches])
            if len(compiled_branches) == 1 and not out.get("properties"):
                out = {**compiled_branches[0], **out}
            else:
                out["anyOf"] = compiled_branches
        parts = schema.get("allOf")
        if isinstance(parts, list) and parts:
            out = self._merge_all_of(out, [self._node(p, doc, depth + 1) for p in parts], depth)
        if schema.get("nullable") is True and self._v30:
            out = make_nullable(out)
        return out

    def _bounds(self, schema: dict[str, Any], out: dict[str, Any]) -> None:
        for key, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            value = schema.get(key)
            if value is True and bound in schema:
                out[key] = schema[bound]
                out.pop(bound, None)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = value

    def _merge_all_of(self, own: dict[str, Any], parts: list[dict[str, Any]], depth: int) -> dict[str, Any]:
        merged = dict(own)
        leftover: list[dict[str, Any]] = []
        for part in parts:
            body = part
            ref = part.get("$ref")
            if isinstance(ref, str):
                name = def_name_of(ref)
                found = self._ensure(name) if name and len(self._busy) < 16 else self.defs.get(name or "")
                if found is None:
                    leftover.append(part)
                    continue
                body = {**found, **{k: v for k, v in part.items() if k != "$ref"}}
            if "anyOf" in body or "allOf" in body or "$ref" in body:
                leftover.append(part)
                continue
            _merge_into(merged, body)
        if leftover:
            merged["allOf"] = leftover
        return merged


def _merge_into(target: dict[str, Any], part: dict[str, Any]) -> None:
    for key, value in part.items():
        if key == "properties":
            props = dict(target.get("properties") or {})
            for prop, sub in value.items():
                props.setdefault(prop, sub)
            target["properties"] = props
        elif key == "required":
            seen = list(target.get("required") or [])
            target["required"] = seen + [r for r in value if r not in seen]
        elif key == "type" and "type" in target and target["type"] != value:
            mine = target["type"] if isinstance(target["type"], list) else [target["type"]]
            theirs = value if isinstance(value, list) else [value]
            common = [t for t in mine if t in theirs]
            target["type"] = (common[0] if len(common) == 1 else common) if common else target["type"]
        elif key not in target:
            target[key] = value


def make_nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` that also accepts null."""
    kind = schema.get("type")
    out = dict(schema)
    if isinstance(kind, str):
        out["type"] = [kind, "null"] if kind != "null" else "null"
    elif isinstance(kind, list):
        out["type"] = kind if "null" in kind else [*kind, "null"]
    elif "anyOf" in schema:
        branches = schema["anyOf"]
        if not any(b.get("type") == "null" for b in branches):
            out["anyOf"] = [*branches, {"type": "null"}]
        return out
    elif "$ref" in schema or "const" in schema or "allOf" in schema:
        description = out.pop("description", None)
        out = {"anyOf": [out, {"type": "null"}]}
        if description:
            out["description"] = description
        return out
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


def _unique(branches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    for branch in branches:
        if branch not in seen:
            seen.append(branch)
    return seen
