"""Turning one OpenAPI operation into function arguments and request bindings.

Path, query, header and cookie parameters and the body's fields are flattened into one
argument object, because models fill flat objects best. Body fields keep their names;
a parameter whose name is taken (by a field or by a parameter elsewhere) becomes
`name__location`, and the bindings remember the way back. Credentials never become
arguments: parameters that carry a security scheme's key, and the usual credential
headers, are removed and injected at call time instead.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from .errors import OperationError
from .models import RUN_ID_HEADER, BodyBinding, CallbackSpec, ParamBinding, SecurityBinding, WaitSpec
from .refs import Resolver
from .request_parts import callback_of, relative_server_path, security_of
from .schemas import SCHEMA_DESCRIPTION_CHARS, SchemaCompiler
from .text import clean_text, short_text
from .waits import parse_wait

__all__ = ["OperationDraft", "draft_operation", "pick_media_type"]

_LOCATIONS = ("path", "query", "header", "cookie")
_DEFAULT_STYLE = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}
# Headers the engine writes itself; the run id header in particular must never be the model's to set,
# nor the idempotency key: the run derives one per call, and a model reusing one key for two different
# calls would get the first call's answer back for the second.
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization", "idempotency-key", RUN_ID_HEADER.lower()})
_CREDENTIAL_NAMES = frozenset(
    {"token", "access_token", "api_key", "apikey", "api-key", "x-api-key", "auth_token", "authorization"}
)
_MEDIA_PREFERENCE = (
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
    "application/octet-stream",
)
_PATH_VARIABLE = re.compile(r"\{([^{}/]+)\}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class OperationDraft:
    """An operation converted except for its final name."""

    operation_id: str
    method: str
    path: str
    description: str
    schema: dict[str, Any]
    params: list[ParamBinding]
    body: BodyBinding | None
    security: list[list[SecurityBinding]]
    callback: CallbackSpec | None
    wait: WaitSpec | None
    approval: str | None
    """`required` or `never` from x-toolmesh-approval, else None."""
    tags: list[str]
    server_path: str


def pick_media_type(content: Mapping[str, Any]) -> str | None:
    """The body media type the engine sends: JSON first, then forms, text, bytes."""
    types = [str(t) for t in content]
    lowered = {t.lower().split(";")[0].strip(): t for t in types}
    for wanted in _MEDIA_PREFERENCE:
        if wanted in lowered:
            return lowered[wanted]
        if wanted == "application/json":
            for low, original in lowered.items():
                if low.endswith(("+json", "/json")):
                    return original
    return types[0] if types else None


FILE_HINT = "File content: plain text, or 'base64:' followed by base64-encoded bytes."


def _file_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A file field as the model fills it: a string, with the encoding rule in its description."""
    described = short_text(schema.get("description"), SCHEMA_DESCRIPTION_CHARS)
    return {"type": "string", "description": f"{described} {FILE_HINT}".strip()}


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Body:
    """The request body as arguments: flat fields, or one whole-body argument."""

    binding: BodyBinding
    fields: dict[str, Any]
    """Flat bodies: property name -> schema."""
    required: list[str]
    whole_schema: dict[str, Any] | None = None


def _parameters(
    resolver: Resolver,
    doc: str,
    pointer: str,
    path: str,
    op: dict[str, Any],
    shared: list[tuple[Any, str]],
    hidden: set[tuple[str, str]],
    secured: bool,
    callback: CallbackSpec | None,
) -> list[tuple[dict[str, Any], str]]:
    """The parameters the model fills: path-level merged with the operation's, secrets removed."""
    own = op.get("parameters") or []
    if not isinstance(own, list):
        raise OperationError(pointer, "parameters must be a list")
    merged: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    for raw, raw_doc in [*shared, *((p, doc) for p in own)]:
        param, param_doc, _ = resolver.deref(raw, raw_doc)
        if not isinstance(param, dict) or param.get("in") not in _LOCATIONS or not param.get("name"):
            raise OperationError(pointer, f"invalid parameter {str(raw)[:80]}")
        merged[(str(param["in"]), str(param["name"]))] = (param, param_doc)
    kept: list[tuple[dict[str, Any], str]] = []
    for (location, name), (param, param_doc) in merged.items():
        low = name.lower()
        if location == "header" and low in _IGNORED_HEADERS:
            continue
        if (location, low) in hidden or (secured and low in _CREDENTIAL_NAMES and location != "path"):
            continue
        if callback and callback.location == location and callback.target.lower() == low:
            continue
        kept.append((param, param_doc))
    for name in _PATH_VARIABLE.findall(path):
        if ("path", name) not in merged:
            # Undeclared template variables are common in real specs; without an argument
            # the request would carry a literal "{name}".
            kept.append(({"name": name, "in": "path", "required": True, "schema": {"type": "string"}}, doc))
    return sorted(kept, key=lambda p: _LOCATIONS.index(str(p[0]["in"])))


def _request_body(
    resolver: Resolver, compiler: SchemaCompiler, doc: str, op: dict[str, Any], callback: CallbackSpec | None
) -> _Body | None:
    """The body as flat fields when it is a plain object, else as one `body` argument."""
    if op.get("requestBody") is None:
        return None
    body, body_doc, _ = resolver.deref(op["requestBody"], doc)
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, dict) or not content:
        return None
    media_type = pick_media_type(content) or ""
    media = content.get(media_type) or {}
    raw_schema = media.get("schema") if isinstance(media, dict) else None
    schema = compiler.compile(raw_schema if raw_schema is not None else {}, body_doc)
    resolved = compiler.body_of(schema) or {}
    props = resolved.get("properties")
    is_required = bool(body.get("required"))
    if not isinstance(props, dict) or not props or "anyOf" in resolved or "allOf" in resolved:
        if media_type.lower() == "application/octet-stream":
            schema = _file_schema(schema)
        description = short_text(body.get("description"), SCHEMA_DESCRIPTION_CHARS)
        if description and "description" not in schema:
            schema = {**schema, "description": description}
        binding = BodyBinding(media_type=media_type, whole_arg="body", required=is_required)
        return _Body(binding=binding, fields={}, required=[], whole_schema=schema)
    fields = dict(props)
    required = list(resolved.get("required") or [])
    if callback and callback.location == "body" and callback.target.count("/") == 1:
        hidden = callback.target[1:].replace("~1", "/").replace("~0", "~")
        fields.pop(hidden, None)
        required = [r for r in required if r != hidden]
    binary: list[str] = []
    if "multipart" in media_type.lower():
        binary = [p for p, s in fields.items() if isinstance(s, dict) and s.get("format") in ("binary", "base64")]
    for prop in binary:
        fields[prop] = _file_schema(fields[prop])
    binding = BodyBinding(
        media_type=media_type, fields={p: p for p in fields}, required=is_required or bool(required),
        binary_fields=binary,
    )  # fmt: skip
    return _Body(binding=binding, fields=fields, required=[r for r in required if r in fields])


def _description(op: dict[str, Any], method: str, path: str) -> str:
    summary = clean_text(op.get("summary"))
    details = clean_text(op.get("description"))
    if details and not details.startswith(summary):
        description = f"{summary.rstrip('.')}. {details}" if summary else details
    else:
        description = summary
    description = clean_text(description or f"{method.upper()} {path}")
    if op.get("deprecated") is True:
        description = clean_text(f"[deprecated] {description}")
    return description


def draft_operation(
    *,
    resolver: Resolver,
    compiler: SchemaCompiler,
    doc: str,
    path: str,
    method: str,
    op: dict[str, Any],
    shared_params: list[tuple[Any, str]],
    servers: Any = None,
    root_security: Any,
    schemes: Mapping[str, Any],
    auth: Mapping[str, str],
) -> OperationDraft:
    """Convert one operation; raises OperationError (or RefError) when it cannot be."""
    pointer = f"/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}"
    requirements = op["security"] if "security" in op else root_security
    security, hidden = security_of(requirements, schemes, auth, resolver, doc)
    callback = callback_of(op)
    try:
        wait = parse_wait(op["x-toolmesh-wait"]) if "x-toolmesh-wait" in op else None
    except ValueError as exc:
        raise OperationError(pointer, str(exc)) from None
    params = _parameters(resolver, doc, pointer, path, op, shared_params, hidden, any(security), callback)
    body = _request_body(resolver, compiler, doc, op, callback)

    counts: dict[str, int] = {}
    for param, _ in params:
        counts[str(param["name"])] = counts.get(str(param["name"]), 0) + 1
    taken = set(body.fields) if body else set()
    properties: dict[str, Any] = {}
    required: list[str] = []
    bindings: list[ParamBinding] = []
    for param, param_doc in params:
        name, location = str(param["name"]), str(param["in"])
        arg = name if counts[name] == 1 and name not in taken else f"{name}__{location}"
        properties[arg], content_type = _param_schema(param, param_doc, compiler)
        is_required = bool(param.get("required")) or location == "path"
        if is_required:
            required.append(arg)
        style = str(param.get("style") or _DEFAULT_STYLE[location])
        explode = param.get("explode")
        bindings.append(
            ParamBinding(
                arg=arg,
                name=name,
                location=location,
                style=style,
                explode=bool(explode) if explode is not None else style == "form",
                required=is_required,
                allow_reserved=bool(param.get("allowReserved")),
                content_type=content_type,
            )  # fmt: skip
        )
    body_binding = body.binding if body else None
    if body is not None and body.whole_schema is not None:
        arg = "body" if "body" not in properties else "body__body"
        body_binding = dataclasses.replace(body.binding, whole_arg=arg)
        properties[arg] = body.whole_schema
        if body.binding.required:
            required.append(arg)
    elif body is not None:
        properties.update(body.fields)
        required.extend(body.required)

    root: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        root["required"] = required
    root["additionalProperties"] = False
    approval = op.get("x-toolmesh-approval")
    return OperationDraft(
        operation_id=str(op.get("operationId") or ""),
        method=method.upper(),
        path=path,
        description=_description(op, method, path),
        schema=root,
        params=bindings,
        body=body_binding,
        security=security,
        callback=callback,
        wait=wait,
        approval=approval if approval in ("required", "never") else None,
        tags=[str(t) for t in op.get("tags") or []],
        server_path=relative_server_path(op.get("servers") or servers),
    )


def _param_schema(param: dict[str, Any], doc: str, compiler: SchemaCompiler) -> tuple[dict[str, Any], str | None]:
    content_type: str | None = None
    raw = param.get("schema")
    content = param.get("content")
    if raw is None and isinstance(content, dict) and content:
        content_type = str(next(iter(content)))
        media = content[content_type]
        raw = media.get("schema") if isinstance(media, dict) else None
    schema = compiler.compile(raw if raw is not None else {"type": "string"}, doc)
    description = short_text(param.get("description"), SCHEMA_DESCRIPTION_CHARS)
    if description and "description" not in schema:
        schema = {**schema, "description": description}
    return schema, content_type
