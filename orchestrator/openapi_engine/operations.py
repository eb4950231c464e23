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
from .models import BodyBinding, CallbackSpec, ParamBinding, SecurityBinding
from .refs import Resolver
from .schemas import SCHEMA_DESCRIPTION_CHARS, SchemaCompiler
from .text import clean_text, short_text

__all__ = ["OperationDraft", "draft_operation", "pick_media_type"]

_LOCATIONS = ("path", "query", "header", "cookie")
_DEFAULT_STYLE = {"path": "simple", "query": "form", "header": "simple", "cookie": "form"}
_IGNORED_HEADERS = frozenset({"accept", "content-type", "authorization"})
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
_CALLBACK_EXPR = re.compile(
    r"^\{?\$request\.(body#(?P<pointer>/[^}]*)|query\.(?P<query>[^}]+)|header\.(?P<header>[^}]+))\}?"
)


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


def _security(
    requirements: Any, schemes: Mapping[str, Any], auth: Mapping[str, str], resolver: Resolver, doc: str
) -> tuple[list[list[SecurityBinding]], set[tuple[str, str]]]:
    alternatives: list[list[SecurityBinding]] = []
    hidden: set[tuple[str, str]] = set()
    for requirement in requirements or []:
        if not isinstance(requirement, dict):
            continue
        bindings: list[SecurityBinding] = []
        usable = True
        for scheme_name in requirement:
            scheme, _, _ = resolver.deref(schemes.get(scheme_name), doc)
            if not isinstance(scheme, dict):
                usable = False
                break
            setting = auth.get(scheme_name, scheme_name)
            kind = str(scheme.get("type", ""))
            if kind == "apiKey" and scheme.get("in") in ("header", "query", "cookie"):
                binding = SecurityBinding(
                    scheme=scheme_name, kind="apiKey", location=str(scheme["in"]),
                    param_name=str(scheme.get("name", "")), setting=setting,
                )  # fmt: skip
                hidden.add((binding.location, binding.param_name.lower()))
            elif kind == "http" and str(scheme.get("scheme", "")).lower() in ("basic", "bearer"):
                binding = SecurityBinding(
                    scheme=scheme_name, kind=str(scheme["scheme"]).lower(), location="header",
                    param_name="Authorization", setting=setting,
                )  # fmt: skip
            elif kind in ("oauth2", "openIdConnect"):
                binding = SecurityBinding(
                    scheme=scheme_name, kind="bearer", location="header", param_name="Authorization",
                    setting=setting,
                )  # fmt: skip
            else:
                usable = False
                break
            bindings.append(binding)
        if usable:
            alternatives.append(bindings)
    return alternatives, hidden


def _callback(op: dict[str, Any]) -> CallbackSpec | None:
    callbacks = op.get("callbacks")
    if not isinstance(callbacks, dict):
        return None
    for name, item in callbacks.items():
        if not isinstance(item, dict):
            continue
        for expression in item:
            match = _CALLBACK_EXPR.match(str(expression).strip())
            if not match:
                continue
            timeout = _callback_timeout(op, item, item[expression])
            if match.group("pointer"):
                location, target = "body", match.group("pointer")
            elif match.group("query"):
                location, target = "query", match.group("query")
            else:
                location, target = "header", str(match.group("header"))
            return CallbackSpec(
                name=str(name), expression=str(expression), location=location, target=target,
                timeout_seconds=float(timeout) if isinstance(timeout, (int, float)) else None,
            )  # fmt: skip
    return None


FILE_HINT = "File content: plain text, or 'base64:' followed by base64-encoded bytes."


def _file_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A file field as the model fills it: a string, with the encoding rule in its description."""
    described = short_text(schema.get("description"), SCHEMA_DESCRIPTION_CHARS)
    return {"type": "string", "description": f"{described} {FILE_HINT}".strip()}


def relative_server_path(servers: Any) -> str:
    """The path of the first server when it is relative (`/api/v3`), variables at their defaults.

    The registry's base_url says where a tool runs and replaces absolute server URLs; a
    relative server URL is a prefix the service expects under that base.
    """
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], dict):
        return ""
    url = str(servers[0].get("url") or "")
    variables = servers[0].get("variables") or {}
    if isinstance(variables, dict):
        for name, spec in variables.items():
            if isinstance(spec, dict) and "default" in spec:
                url = url.replace("{" + str(name) + "}", str(spec["default"]))
    if not url.startswith("/") or "{" in url:
        return ""
    return url.rstrip("/")


def _callback_timeout(op: dict[str, Any], callback: dict[str, Any], path_item: Any) -> Any:
    """`x-toolmesh-callback-timeout` from the operation, the callback, or the callback's operations."""
    candidates: list[Any] = [op, callback, path_item]
    if isinstance(path_item, dict):
        candidates.extend(path_item.values())
    for node in candidates:
        if isinstance(node, dict) and "x-toolmesh-callback-timeout" in node:
            return node["x-toolmesh-callback-timeout"]
    return None


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
    server_path = relative_server_path(op.get("servers") or servers)
    pointer_base = f"/paths/{path.replace('~', '~0').replace('/', '~1')}/{method}"
    requirements = op["security"] if "security" in op else root_security
    security, hidden = _security(requirements, schemes, auth, resolver, doc)
    secured = any(security)
    callback = _callback(op)

    merged: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    own_params = op.get("parameters") or []
    if not isinstance(own_params, list):
        raise OperationError(pointer_base, "parameters must be a list")
    for raw, raw_doc in [*shared_params, *((p, doc) for p in own_params)]:
        param, param_doc, _ = resolver.deref(raw, raw_doc)
        if not isinstance(param, dict) or param.get("in") not in _LOCATIONS or not param.get("name"):
            raise OperationError(pointer_base, f"invalid parameter {str(raw)[:80]}")
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

    body_schema: dict[str, Any] | None = None
    body_binding: BodyBinding | None = None
    body_props: dict[str, Any] = {}
    body_required: list[str] = []
    request_body = op.get("requestBody")
    if request_body is not None:
        body, body_doc, _ = resolver.deref(request_body, doc)
        content = body.get("content") if isinstance(body, dict) else None
        if isinstance(content, dict) and content:
            media_type = pick_media_type(content)
            assert media_type is not None
            media = content.get(media_type) or {}
            raw_schema = media.get("schema") if isinstance(media, dict) else None
            body_schema = compiler.compile(raw_schema if raw_schema is not None else {}, body_doc)
            resolved = compiler.body_of(body_schema) or {}
            props = resolved.get("properties")
            flat = (
                isinstance(props, dict)
                and bool(props)
                and "anyOf" not in resolved
                and "allOf" not in resolved
            )
            is_required = bool(body.get("required"))
            if flat and isinstance(props, dict):
                body_props = dict(props)
                body_required = list(resolved.get("required") or [])
                if callback and callback.location == "body" and callback.target.count("/") == 1:
                    hidden_field = callback.target[1:].replace("~1", "/").replace("~0", "~")
                    body_props.pop(hidden_field, None)
                    body_required = [r for r in body_required if r != hidden_field]
                binary = [
                    p
                    for p, s in body_props.items()
                    if isinstance(s, dict) and s.get("format") in ("binary", "base64")
                ]
                if "multipart" not in media_type.lower():
                    binary = []
                for prop in binary:
                    body_props[prop] = _file_schema(body_props[prop])
                body_binding = BodyBinding(
                    media_type=media_type, fields={}, required=is_required or bool(body_required),
                    binary_fields=binary,
                )  # fmt: skip
            else:
                body_binding = BodyBinding(media_type=media_type, whole_arg="body", required=is_required)
                if media_type.lower() == "application/octet-stream":
                    body_schema = _file_schema(body_schema)
                description = short_text(body.get("description"), SCHEMA_DESCRIPTION_CHARS)
                if description and "description" not in body_schema:
                    body_schema = {**body_schema, "description": description}

    names: dict[str, int] = {}
    for param, _ in kept:
        names[str(param["name"])] = names.get(str(param["name"]), 0) + 1
    taken = set(body_props)
    properties: dict[str, Any] = {}
    required: list[str] = []
    bindings: list[ParamBinding] = []
    for param, param_doc in sorted(kept, key=lambda p: _LOCATIONS.index(str(p[0]["in"]))):
        name, location = str(param["name"]), str(param["in"])
        arg = name if names[name] == 1 and name not in taken else f"{name}__{location}"
        schema, content_type = _param_schema(param, param_doc, compiler)
        properties[arg] = schema
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
    if body_binding is not None and body_binding.whole_arg is None:
        fields = {}
        for prop, schema in body_props.items():
            properties[prop] = schema
            fields[prop] = prop
        required.extend(p for p in body_required if p in body_props)
        body_binding = dataclasses.replace(body_binding, fields=fields)
    elif body_binding is not None and body_schema is not None:
        arg = "body" if "body" not in properties else "body__body"
        body_binding = dataclasses.replace(body_binding, whole_arg=arg)
        properties[arg] = body_schema
        if body_binding.required:
            required.append(arg)

    root: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        root["required"] = required
    root["additionalProperties"] = False
    approval = op.get("x-toolmesh-approval")
    summary = clean_text(op.get("summary"))
    details = clean_text(op.get("description"))
    if details and not details.startswith(summary):
        description = f"{summary.rstrip('.')}. {details}" if summary else details
    else:
        description = summary
    description = clean_text(description or details or f"{method.upper()} {path}")
    if op.get("deprecated") is True:
        description = clean_text(f"[deprecated] {description}")
    return OperationDraft(
        operation_id=str(op.get("operationId") or ""),
        method=method.upper(),
        path=path,
        description=description,
        schema=root,
        params=bindings,
        body=body_binding,
        security=security,
        callback=callback,
        approval=approval if approval in ("required", "never") else None,
        tags=[str(t) for t in op.get("tags") or []],
        server_path=server_path,
    )


def _param_schema(
    param: dict[str, Any], doc: str, compiler: SchemaCompiler
) -> tuple[dict[str, Any], str | None]:
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
