"""Checking a model's arguments before any request is made.

Messages are written for the model to read and fix its call: which argument, what is
wrong, what was expected. Strict-mode calls send `null` for optional fields they leave
out; those nulls mean "omitted" and are removed first.

Every tool call is checked, and almost every call is valid, so the verdict comes from a
compiled validator (jsonschema-rs, about a microsecond per call) kept per schema; the
messages come from jsonschema, which explains each problem, and only when that verdict
is "invalid". jsonschema has the last word: where the two disagree (a regex feature one
of them reads differently), arguments jsonschema accepts are accepted.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from .models import ToolFunction, ToolResult

__all__ = ["MAX_MESSAGES", "drop_omitted_nulls", "invalid_arguments_result", "validate_arguments"]

MAX_MESSAGES = 8
MAX_MESSAGE_CHARS = 300
MAX_COMPILED = 512
"""Compiled validators kept (one per tool function's schema)."""

_compiling = threading.Lock()
_compiled: dict[int, tuple[dict[str, Any], Any]] = {}
"""By ``id`` of a parameters schema: the schema itself (held, so the id stays its own) and its
compiled validator, or None where jsonschema-rs cannot compile it. Converted schemas are never
changed after conversion (tool functions are frozen), so a schema's validator stays right."""


def _fast_validator(schema: dict[str, Any]) -> Any:
    found = _compiled.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    try:
        validator: Any = jsonschema_rs.Draft202012Validator(schema)
    except Exception:  # noqa: BLE001 - a schema it cannot compile is checked by jsonschema alone
        validator = None
    with _compiling:  # activities on threads validate too: one eviction at a time
        while len(_compiled) >= MAX_COMPILED:
            del _compiled[next(iter(_compiled))]
        _compiled[id(schema)] = (schema, validator)
    return validator


def _surely_valid(schema: dict[str, Any], arguments: Any) -> bool:
    validator = _fast_validator(schema)
    if validator is None:
        return False
    try:
        return bool(validator.is_valid(arguments))
    except Exception:  # noqa: BLE001 - a value it cannot read (a huge integer): ask jsonschema
        return False


def _resolve(schema: Any, defs: Mapping[str, Any]) -> Any:
    for _ in range(16):
        if isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and schema["$ref"].startswith("#/$defs/"):
            schema = defs.get(schema["$ref"][8:], {})
        else:
            break
    return schema


def _allows_null(schema: Any, defs: Mapping[str, Any]) -> bool:
    schema = _resolve(schema, defs)
    if not isinstance(schema, dict) or not schema:
        return True
    kind = schema.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if None in (schema.get("enum") or []):
        return True
    return any(_allows_null(b, defs) for b in schema.get("anyOf") or [])


def _drop(value: Any, schema: Any, defs: Mapping[str, Any], depth: int) -> Any:
    schema = _resolve(schema, defs)
    if depth > 32 or not isinstance(schema, dict):
        return value
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        props = schema["properties"]
        required = set(schema.get("required") or [])
        out = {}
        for key, item in value.items():
            sub = props.get(key)
            if item is None and key not in required and sub is not None and not _allows_null(sub, defs):
                continue
            out[key] = _drop(item, sub, defs, depth + 1) if sub is not None else item
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_drop(item, schema["items"], defs, depth + 1) for item in value]
    if isinstance(value, (dict, list)) and schema.get("anyOf"):
        branches = [b for b in schema["anyOf"] if not _allows_null(b, defs) or _resolve(b, defs).get("properties")]
        if len(branches) == 1:
            return _drop(value, branches[0], defs, depth + 1)
    return value


def drop_omitted_nulls(function: ToolFunction, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """`arguments` without nulls standing for omitted optional fields (strict mode)."""
    defs = function.parameters.get("$defs") or {}
    result = _drop(dict(arguments), function.parameters, defs, 0)
    return result if isinstance(result, dict) else dict(arguments)


def _where(error: ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _message(error: ValidationError) -> str:
    where = _where(error)
    if error.validator == "required" and isinstance(error.validator_value, list):
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [r for r in error.validator_value if r not in instance]
        names = ", ".join(f"'{where + '.' if where else ''}{m}'" for m in missing)
        return f"missing required argument {names}"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list((error.schema.get("properties") or {}) if isinstance(error.schema, dict) else [])
        extra = [k for k in error.instance if k not in allowed]
        prefix = f"'{where}' has " if where else ""
        hint = f"; expected only: {', '.join(allowed)}" if allowed else ""
        return f"{prefix}unknown argument {', '.join(repr(e) for e in extra)}{hint}"
    target = f"argument '{where}'" if where else "arguments"
    return f"{target}: {error.message}"


def validate_arguments(function: ToolFunction, arguments: object) -> list[str]:
    """Messages describing what is wrong with `arguments`; empty when they are valid."""
    if not isinstance(arguments, Mapping):
        return [f"arguments must be a JSON object, got {type(arguments).__name__}"]
    cleaned = drop_omitted_nulls(function, arguments)
    if _surely_valid(function.parameters, cleaned):
        return []
    validator = Draft202012Validator(function.parameters)
    errors = sorted(validator.iter_errors(cleaned), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    messages: list[str] = []
    for error in errors:
        message = _message(error)
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 1] + "…"
        if message not in messages:
            messages.append(message)
    if len(messages) > MAX_MESSAGES:
        messages = [*messages[:MAX_MESSAGES], f"... and {len(messages) - MAX_MESSAGES} more problems"]
    return messages


def invalid_arguments_result(function: ToolFunction, arguments: object) -> ToolResult | None:
    """The failed result a call with invalid `arguments` gets before anything is sent; None when valid."""
    problems = validate_arguments(function, arguments)
    if not problems:
        return None
    return ToolResult(ok=False, error=f"invalid arguments for {function.name}: " + "; ".join(problems)[:2000])
