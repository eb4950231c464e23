"""Load the function app from its folder and index its functions by trigger.

The app is imported exactly as the Python worker does (``function_app.py`` from the app
folder, which goes first on ``sys.path``); ``app.get_functions()`` is called once, because a
second call raises in azure-functions 1.26. ``host.json`` gives the HTTP route prefix and
the task hub name; ``local.settings.json`` Values fill in environment variables that are
not already set, as ``func start`` does.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from durable_host.errors import ConfigError, UnsupportedFeatureError
from durable_host.routes import RouteTemplate

__all__ = ["ActivityFunction", "FunctionIndex", "HttpFunction", "load_app"]

log = logging.getLogger("durable_host")

DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_HUB_NAME = "TestHubName"


@dataclass(frozen=True, kw_only=True)
class ActivityFunction:
    name: str
    fn: Callable[..., Any]
    param: str


@dataclass(frozen=True, kw_only=True)
class HttpFunction:
    name: str
    fn: Callable[..., Any]
    route: RouteTemplate
    methods: frozenset[str] | None
    auth_level: str
    request_param: str
    client_param: str | None


@dataclass(frozen=True, kw_only=True)
class FunctionIndex:
    """The app's functions, by the names the durable runtime uses for them."""

    orchestrators: dict[str, Callable[..., Any]]
    activities: dict[str, ActivityFunction]
    http: list[HttpFunction]
    route_prefix: str
    hub_name: str

    def is_orchestrator(self, name: str) -> bool:
        return name in self.orchestrators


def load_local_settings(app_dir: Path) -> None:
    """Copy ``Values`` from local.settings.json into the environment without overriding."""
    path = app_dir / "local.settings.json"
    if not path.is_file():
        return
    try:
        values = json.loads(path.read_text()).get("Values") or {}
    except (json.JSONDecodeError, AttributeError) as exc:
        raise ConfigError(f"{path} is not valid JSON with a 'Values' object: {exc}") from exc
    for key, value in values.items():
        os.environ.setdefault(str(key), str(value))


def _host_json(app_dir: Path) -> dict[str, Any]:
    path = app_dir / "host.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


def _import_app(app_dir: Path) -> Any:
    module_path = app_dir / "function_app.py"
    if not module_path.is_file():
        raise ConfigError(f"no function_app.py in {app_dir}")
    sys.path.insert(0, str(app_dir))
    spec = importlib.util.spec_from_file_location("function_app", module_path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {module_path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["function_app"] = module
    spec.loader.exec_module(module)
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "get_functions"):
        raise ConfigError(f"{module_path} defines no function app named 'app'")
    return app


def load_app(app_dir: Path) -> FunctionIndex:
    """Import ``function_app.py`` and index its orchestrators, activities and HTTP routes."""
    app_dir = app_dir.resolve()
    load_local_settings(app_dir)
    host = _host_json(app_dir)
    extensions = host.get("extensions") or {}
    route_prefix = str((extensions.get("http") or {}).get("routePrefix", DEFAULT_ROUTE_PREFIX)).strip("/")
    hub_name = str((extensions.get("durableTask") or {}).get("hubName") or DEFAULT_HUB_NAME)
    app = _import_app(app_dir)
    orchestrators: dict[str, Callable[..., Any]] = {}
    activities: dict[str, ActivityFunction] = {}
    http: list[HttpFunction] = []
    for function in app.get_functions():
        name = function.get_function_name()
        trigger = function.get_trigger()
        kind = getattr(trigger, "type", None)
        fn = function.get_user_function()
        if kind == "orchestrationTrigger":
            orchestrators[getattr(trigger, "orchestration", None) or name] = fn
        elif kind == "activityTrigger":
            activity_name = getattr(trigger, "activity", None) or name
            activities[activity_name] = ActivityFunction(name=activity_name, fn=fn, param=trigger.name)
        elif kind == "entityTrigger":
            raise UnsupportedFeatureError(
                f"function '{name}' is a durable entity; the local durable host does not run entities"
            )
        elif kind == "httpTrigger":
            client = next((b.name for b in function.get_bindings() if b.type == "durableClient"), None)
            methods = getattr(trigger, "methods", None)
            level = getattr(trigger, "auth_level", None)
            http.append(
                HttpFunction(
                    name=name,
                    fn=fn,
                    route=RouteTemplate.parse(getattr(trigger, "route", None) or name),
                    methods=frozenset(str(getattr(m, "value", m)).upper() for m in methods)
                    if methods
                    else None,
                    auth_level=str(getattr(level, "value", level) or "function").lower(),
                    request_param=trigger.name,
                    client_param=client,
                )
            )
        else:
            log.warning(
                "function %s has trigger type %s, which the local durable host does not run", name, kind
            )
    log.info(
        "loaded %d orchestrators, %d activities, %d HTTP routes from %s",
        len(orchestrators),
        len(activities),
        len(http),
        app_dir,
    )
    return FunctionIndex(
        orchestrators=orchestrators,
        activities=activities,
        http=http,
        route_prefix=route_prefix,
        hub_name=hub_name,
    )
