"""Load the function app from its folder and index its functions by trigger.

The app is imported as the Python worker does (docs/durable-host.md, "Loading an app"): a v2
app's script (``function_app.py``) with the app folder first on ``sys.path``, its one top-level
function app found whatever its variable name, ``get_functions()`` called once (a second call
raises in azure-functions 1.26); a v1 app's ``function.json`` folders through
``function_json.py``. Both give each function's bindings in the same JSON shape, indexed here
by trigger. ``host.json`` gives the HTTP route prefix and the task hub name;
``local.settings.json`` Values fill in environment variables that are not already set, as
``func start`` does.
"""

from __future__ import annotations

import inspect
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.functions.decorators.utils import StringifyEnumJsonEncoder

from durable_host.app_import import run_app_script
from durable_host.errors import ConfigError, UnsupportedFeatureError
from durable_host.function_json import FunctionSpec, function_json_folders, load_v1_functions
from durable_host.json_config import read_json_config
from durable_host.routes import RouteTemplate

__all__ = ["ActivityFunction", "FunctionIndex", "HttpFunction", "load_app"]

log = logging.getLogger("durable_host")

DEFAULT_ROUTE_PREFIX = "api"
DEFAULT_HUB_NAME = "TestHubName"
DEFAULT_SCRIPT_FILE = "function_app.py"
SCRIPT_FILE_SETTING = "PYTHON_SCRIPT_FILE_NAME"


@dataclass(frozen=True, kw_only=True)
class ActivityFunction:
    name: str
    fn: Callable[..., Any]
    param: str
    client_param: str | None = None
    """The parameter that takes the durable client binding, as an HTTP function's does."""


@dataclass(frozen=True, kw_only=True)
class HttpFunction:
    name: str
    fn: Callable[..., Any]
    route: RouteTemplate
    methods: frozenset[str] | None
    auth_level: str
    request_param: str
    client_param: str | None
    response_param: str | None = None
    """The parameter whose ``Out`` carries the response, when it is not the return value."""
    streams: bool = False
    """The request parameter is an ASGI (Starlette/FastAPI) request, as with the Functions HTTP streams
    extension: the function gets the live request and its response (a stream, say) is sent as is."""


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
        values = read_json_config(path).get("Values") or {}
    except (json.JSONDecodeError, AttributeError) as exc:
        raise ConfigError(f"{path} is not valid JSON with a 'Values' object: {exc}") from exc
    for key, value in values.items():
        os.environ.setdefault(str(key), str(value))


def _host_json(app_dir: Path) -> dict[str, Any]:
    path = app_dir / "host.json"
    if not path.is_file():
        return {}
    try:
        data = read_json_config(path)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


def load_app(app_dir: Path) -> FunctionIndex:
    """Import the app and index its orchestrators, activities and HTTP routes.

    As on Azure, the v2 programming model's script (``function_app.py``, or the file named by
    ``PYTHON_SCRIPT_FILE_NAME``) wins; without it, the v1 model's ``<function>/function.json``
    folders are loaded.
    """
    app_dir = app_dir.resolve()
    if not app_dir.is_dir():
        raise ConfigError(f"the app folder {app_dir} does not exist")
    load_local_settings(app_dir)
    host = _host_json(app_dir)
    extensions = host.get("extensions") or {}
    route_prefix = str((extensions.get("http") or {}).get("routePrefix", DEFAULT_ROUTE_PREFIX)).strip("/")
    hub_name = str((extensions.get("durableTask") or {}).get("hubName") or DEFAULT_HUB_NAME)
    script = app_dir / (os.environ.get(SCRIPT_FILE_SETTING) or DEFAULT_SCRIPT_FILE)
    if script.is_file():
        functions, model = _v2_functions(script, app_dir), "v2 programming model"
    elif function_json_folders(app_dir):
        functions, model = load_v1_functions(app_dir), "v1 programming model, function.json folders"
    else:
        raise ConfigError(
            f"no {script.name} and no <function>/function.json folders in {app_dir}: point --app-dir at "
            "the folder that holds the app's host.json"
        )
    index = _build_index(functions, route_prefix=route_prefix, hub_name=hub_name)
    log.info(
        "loaded %d orchestrators, %d activities, %d HTTP routes from %s (%s)",
        len(index.orchestrators),
        len(index.activities),
        len(index.http),
        app_dir,
        model,
    )
    return index


def _v2_functions(script: Path, app_dir: Path) -> list[FunctionSpec]:
    """The functions of the one top-level function app in the v2 script.

    The worker takes whichever module attribute is a ``FunctionRegister`` (``FunctionApp``,
    ``DFApp``), whatever its name, and refuses a script with none or several
    (``index_function_app`` in azure_functions_worker/loader.py).
    """
    from azure.functions import FunctionRegister

    module = run_app_script(script, app_dir)
    apps = {name: value for name, value in vars(module).items() if isinstance(value, FunctionRegister)}
    if not apps:
        raise ConfigError(
            f"{script} defines no function app: create one at module level, e.g. "
            "app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)"
        )
    if len(apps) > 1:
        raise ConfigError(
            f"{script} defines {len(apps)} function apps ({', '.join(sorted(apps))}); keep one at module level "
            "and register the others' functions on it as blueprints (app.register_functions)"
        )
    app = next(iter(apps.values()))
    try:
        registered = app.get_functions()
    except ValueError as exc:  # e.g. two functions with one name
        raise ConfigError(f"{script}: {exc}") from None
    return [
        FunctionSpec(
            name=str(function.get_function_name()),
            fn=function.get_user_function(),
            bindings=json.loads(json.dumps(function.get_bindings_dict(), cls=StringifyEnumJsonEncoder))["bindings"],
            origin=str(script),
        )
        for function in registered
    ]


def takes_asgi_request(fn: Callable[..., Any], param: str) -> bool:
    """Whether ``fn``'s ``param`` is annotated as a Starlette request (``azurefunctions.extensions.http.fastapi``)."""
    from starlette.requests import Request

    try:
        annotation = inspect.signature(fn, eval_str=True).parameters[param].annotation
    except (KeyError, NameError, TypeError, ValueError):
        return False
    return isinstance(annotation, type) and issubclass(annotation, Request)


def _build_index(functions: list[FunctionSpec], *, route_prefix: str, hub_name: str) -> FunctionIndex:
    orchestrators: dict[str, Callable[..., Any]] = {}
    activities: dict[str, ActivityFunction] = {}
    http: list[HttpFunction] = []
    for function in functions:
        trigger = function.trigger()
        kind = trigger.get("type")
        function.check_bindings()
        if kind == "orchestrationTrigger":
            orchestrators[str(trigger.get("orchestration") or function.name)] = function.fn
        elif kind == "activityTrigger":
            activity_name = str(trigger.get("activity") or function.name)
            activities[activity_name] = ActivityFunction(
                name=activity_name, fn=function.fn, param=trigger["name"], client_param=function.client_param()
            )
        elif kind == "entityTrigger":
            raise UnsupportedFeatureError(
                f"function '{function.name}' ({function.origin}) is a durable entity; the local durable host "
                "does not run entities: run the app with Azure Functions Core Tools (func start) instead"
            )
        elif kind == "httpTrigger":
            methods = trigger.get("methods")
            http.append(
                HttpFunction(
                    name=function.name,
                    fn=function.fn,
                    route=RouteTemplate.parse(str(trigger.get("route") or function.name)),
                    methods=frozenset(str(m).upper() for m in methods) if methods else None,
                    auth_level=str(trigger.get("authLevel") or "function").lower(),
                    request_param=trigger["name"],
                    client_param=function.client_param(),
                    response_param=function.response_param(),
                    streams=takes_asgi_request(function.fn, trigger["name"]),
                )
            )
        else:
            log.warning(
                "function %s has trigger type %s, which the local durable host does not run; it is skipped",
                function.name,
                kind,
            )
    return FunctionIndex(
        orchestrators=orchestrators,
        activities=activities,
        http=http,
        route_prefix=route_prefix,
        hub_name=hub_name,
    )
