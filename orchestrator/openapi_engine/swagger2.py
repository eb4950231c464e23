"""Converting Swagger 2.0 documents up to OpenAPI 3.0.

The rest of the engine speaks only 3.x, so a 2.0 spec is rewritten once after loading:
`host`/`basePath`/`schemes` become `servers`, `definitions` become
`components/schemas`, `in: body` becomes a JSON request body, `formData` parameters
become a form (or multipart, when a file is sent) request body, `collectionFormat`
becomes a style, and `securityDefinitions` become security schemes.
"""

from __future__ import annotations

from typing import Any

__all__ = ["upgrade_swagger2"]

_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_SCHEMA_KEYS = (
    "type", "format", "items", "enum", "default", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
    "multipleOf",
)  # fmt: skip
_COLLECTION_STYLES = {
    "csv": ("form", False),
    "multi": ("form", True),
    "ssv": ("spaceDelimited", False),
    "pipes": ("pipeDelimited", False),
    "tsv": ("form", False),
}


def upgrade_swagger2(spec: dict[str, Any]) -> dict[str, Any]:
    """A new OpenAPI 3.0.3 document equivalent to the Swagger 2.0 `spec`."""
    spec = _rewrite_refs(spec)
    consumes = spec.get("consumes") or ["application/json"]
    produces = spec.get("produces") or ["application/json"]
    global_params = spec.get("parameters") or {}
    out: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": spec.get("info") or {"title": "untitled", "version": "0"},
        "servers": _servers(spec),
        "paths": {},
        "components": {
            "schemas": spec.get("definitions") or {},
            "securitySchemes": {
                name: _security_scheme(scheme)
                for name, scheme in (spec.get("securityDefinitions") or {}).items()
                if isinstance(scheme, dict)
            },
            "responses": {
                name: _response(resp, produces)
                for name, resp in (spec.get("responses") or {}).items()
                if isinstance(resp, dict)
            },
        },
    }
    for key in ("security", "tags", "externalDocs"):
        if key in spec:
            out[key] = spec[key]
    for path, item in (spec.get("paths") or {}).items():
        if not isinstance(item, dict):
            out["paths"][path] = item
            continue
        new_item: dict[str, Any] = {k: v for k, v in item.items() if k not in _METHODS and k != "parameters"}
        shared = [_deref_param(p, global_params) for p in item.get("parameters") or []]
        for method in _METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                new_item[method] = _operation(op, shared, global_params, consumes, produces)
        out["paths"][str(path)] = new_item
    return out


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref.startswith("#/definitions/"):
                return {**node, "$ref": "#/components/schemas/" + ref[len("#/definitions/") :]}
            if ref.startswith("#/responses/"):
                return {**node, "$ref": "#/components/responses/" + ref[len("#/responses/") :]}
        return {k: _rewrite_refs(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node


def _servers(spec: dict[str, Any]) -> list[dict[str, str]]:
    host = spec.get("host")
    base = spec.get("basePath") or ""
    if not host:
        return [{"url": base or "/"}]
    schemes = spec.get("schemes") or ["https"]
    return [{"url": f"{scheme}://{host}{base}"} for scheme in schemes]


def _security_scheme(scheme: dict[str, Any]) -> dict[str, Any]:
    kind = scheme.get("type")
    if kind == "basic":
        return {"type": "http", "scheme": "basic"}
    if kind == "apiKey":
        return {"type": "apiKey", "name": scheme.get("name"), "in": scheme.get("in")}
    flow = scheme.get("flow", "implicit")
    flow_name = {"accessCode": "authorizationCode", "application": "clientCredentials"}.get(flow, flow)
    body = {
        k: v
        for k, v in {
            "authorizationUrl": scheme.get("authorizationUrl"),
            "tokenUrl": scheme.get("tokenUrl"),
            "scopes": scheme.get("scopes") or {},
        }.items()
        if v is not None
    }
    return {"type": "oauth2", "flows": {flow_name: body}}


def _deref_param(param: Any, global_params: dict[str, Any]) -> Any:
    if isinstance(param, dict) and isinstance(param.get("$ref"), str):
        ref = param["$ref"]
        if ref.startswith("#/parameters/"):
            target = global_params.get(ref[len("#/parameters/") :].replace("~1", "/").replace("~0", "~"))
            if isinstance(target, dict):
                return target
    return param


def _operation(
    op: dict[str, Any],
    shared: list[Any],
    global_params: dict[str, Any],
    consumes: list[str],
    produces: list[str],
) -> dict[str, Any]:
    new: dict[str, Any] = {k: v for k, v in op.items() if k not in ("parameters", "consumes", "produces", "responses")}
    op_consumes = op.get("consumes") or consumes
    op_produces = op.get("produces") or produces
    merged: dict[tuple[str, str], Any] = {}
    for param in [*shared, *(_deref_param(p, global_params) for p in op.get("parameters") or [])]:
        if isinstance(param, dict):
            merged[(str(param.get("in")), str(param.get("name")))] = param
    params: list[Any] = []
    form: dict[str, Any] = {}
    form_required: list[str] = []
    has_file = False
    for (location, name), param in merged.items():
        if location == "body":
            media = [m for m in op_consumes if "json" in m or m.endswith("/xml")] or ["application/json"]
            new["requestBody"] = {
                "required": bool(param.get("required")),
                "content": {m: {"schema": param.get("schema") or {}} for m in media[:1]},
            }
            if param.get("description"):
                new["requestBody"]["description"] = param["description"]
        elif location == "formData":
            schema = _param_schema(param)
            if param.get("type") == "file":
                has_file = True
                schema = {"type": "string", "format": "binary"}
            form[name] = schema
            if param.get("required"):
                form_required.append(name)
        else:
            params.append(_parameter(param))
    if form:
        media_type = (
            "multipart/form-data"
            if has_file
            or "multipart/form-data" in op_consumes
            and "application/x-www-form-urlencoded" not in op_consumes
            else "application/x-www-form-urlencoded"
        )
        form_schema: dict[str, Any] = {"type": "object", "properties": form}
        if form_required:
            form_schema["required"] = form_required
        new["requestBody"] = {
            "required": bool(form_required),
            "content": {media_type: {"schema": form_schema}},
        }
    if params:
        new["parameters"] = params
    new["responses"] = {str(code): _response(resp, op_produces) for code, resp in (op.get("responses") or {}).items()}
    return new


def _param_schema(param: dict[str, Any]) -> dict[str, Any]:
    schema = {k: param[k] for k in _SCHEMA_KEYS if k in param}
    if schema.get("type") == "file":
        schema = {"type": "string", "format": "binary"}
    if param.get("description"):
        schema["description"] = param["description"]
    return schema


def _parameter(param: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in param:
        return param
    new: dict[str, Any] = {
        k: v for k, v in param.items() if k not in _SCHEMA_KEYS and k not in ("collectionFormat", "allowEmptyValue")
    }
    schema = {k: param[k] for k in _SCHEMA_KEYS if k in param}
    new["schema"] = schema
    fmt = param.get("collectionFormat")
    if param.get("type") == "array":
        style, explode = _COLLECTION_STYLES.get(fmt or "csv", ("form", False))
        if param.get("in") in ("path", "header"):
            style = "simple"
        new["style"] = style
        new["explode"] = explode
    return new


def _response(resp: dict[str, Any], produces: list[str]) -> dict[str, Any]:
    if "$ref" in resp:
        return resp
    new: dict[str, Any] = {"description": resp.get("description") or ""}
    if resp.get("schema") is not None:
        new["content"] = {m: {"schema": resp["schema"]} for m in produces[:1]}
    return new
