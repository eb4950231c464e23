"""What a call needs besides its arguments: credentials, a callback URL, a server prefix.

Security requirements become `SecurityBinding`s (the secret is read from settings at
call time, never shown to the model) plus the parameter names they make invisible.
Callbacks whose URL expression points into the request (`{$request.body#/callback_url}`)
become a `CallbackSpec`: the run supplies that URL, so the model never sees the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .models import CallbackSpec, SecurityBinding
from .refs import Resolver

__all__ = ["callback_of", "relative_server_path", "security_of"]

_CALLBACK_EXPR = re.compile(
    r"^\{?\$request\.(body#(?P<pointer>/[^}]*)|query\.(?P<query>[^}]+)|header\.(?P<header>[^}]+))\}?"
)


def security_of(
    requirements: Any, schemes: Mapping[str, Any], auth: Mapping[str, str], resolver: Resolver, doc: str
) -> tuple[list[list[SecurityBinding]], set[tuple[str, str]]]:
    """Credential alternatives usable by the engine, and the (location, lower name) pairs they hide."""
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


def callback_of(op: dict[str, Any]) -> CallbackSpec | None:
    """The first callback whose URL the request carries, if any."""
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


def _callback_timeout(op: dict[str, Any], callback: dict[str, Any], path_item: Any) -> Any:
    """`x-toolmesh-callback-timeout` from the operation, the callback, or the callback's operations."""
    candidates: list[Any] = [op, callback, path_item]
    if isinstance(path_item, dict):
        candidates.extend(path_item.values())
    for node in candidates:
        if isinstance(node, dict) and "x-toolmesh-callback-timeout" in node:
            return node["x-toolmesh-callback-timeout"]
    return None


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
