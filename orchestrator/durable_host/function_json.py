"""The v1 programming model: one folder per function, each with a ``function.json``.

A folder's ``function.json`` names the script (``scriptFile``, default ``__init__.py``), the
function in it (``entryPoint``, default ``main``) and its bindings; the folder's name is the
function's name. The script is imported as ``__app__.<folder>[.<module>]``, as the Python
worker's ``load_function`` does, so ``__app__`` imports between folders work. A function is
skipped when ``function.json`` says ``"disabled": true`` or the setting
``AzureWebJobs.<name>.Disabled`` is true, as the Functions host does.

:class:`FunctionSpec` is what both programming models give the index: a name, the callable
and the bindings in ``function.json``'s JSON shape (which is also what a v2 function's
``get_bindings_dict()`` returns).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from durable_host.app_import import APP_NAMESPACE, import_app_module, install_app_namespace
from durable_host.errors import ConfigError, UnsupportedFeatureError
from durable_host.json_config import read_json_config

__all__ = ["FunctionSpec", "function_json_folders", "load_v1_functions"]

DEFAULT_SCRIPT = "__init__.py"
DEFAULT_ENTRY_POINT = "main"
CLIENT_BINDINGS = frozenset({"durableclient", "orchestrationclient"})
"""The durable client binding's type; ``orchestrationClient`` is its name in Durable Functions 1.x."""


@dataclass(frozen=True, kw_only=True)
class FunctionSpec:
    """One function of the app as the host needs it, whichever programming model declared it."""

    name: str
    fn: Callable[..., Any]
    bindings: list[dict[str, Any]]
    origin: str
    """Where the function was declared, for messages."""

    def trigger(self) -> dict[str, Any]:
        triggers = [b for b in self.bindings if str(b.get("type", "")).endswith("Trigger")]
        if len(triggers) != 1:
            raise ConfigError(
                f"function '{self.name}' ({self.origin}) must have exactly one trigger binding, it has {len(triggers)}"
            )
        return triggers[0]

    def client_param(self) -> str | None:
        return next((str(b["name"]) for b in self.bindings if str(b.get("type", "")).lower() in CLIENT_BINDINGS), None)

    def response_param(self) -> str | None:
        """The parameter an HTTP function sets its response on, when it is not the return value.

        A ``function.json`` may name the ``http`` out binding (``"name": "message"``); the worker
        then passes an ``Out`` the function calls ``set`` on, and the Functions host answers with
        its value (worker: ``bindings/out.py`` and ``dispatcher.py``).
        """
        return next((str(b["name"]) for b in self.bindings if _is_http_output(b) and b.get("name") != "$return"), None)

    def check_bindings(self) -> None:
        """Refuse a binding the host cannot provide rather than call the function without it."""
        http_outputs = [b for b in self.bindings if _is_http_output(b)]
        if len(http_outputs) > 1:
            names = ", ".join(repr(b.get("name")) for b in http_outputs)
            raise ConfigError(
                f"function '{self.name}' ({self.origin}) has {len(http_outputs)} http out bindings "
                f"({names}); an HTTP function answers with one: keep one of them"
            )
        for binding in self.bindings:
            kind = str(binding.get("type", ""))
            direction = str(binding.get("direction", "in")).lower()
            if kind.endswith("Trigger") or kind.lower() in CLIENT_BINDINGS or _is_http_output(binding):
                continue
            raise UnsupportedFeatureError(
                f"function '{self.name}' ({self.origin}) has a '{kind}' {direction} binding "
                f"('{binding.get('name')}'), which the local durable host does not provide: it provides "
                "the HTTP, orchestration, activity and durable client bindings and an HTTP response (returned "
                "or set on an http out binding). Remove the binding or run the app with Azure Functions Core "
                "Tools (func start)"
            )


def _is_http_output(binding: dict[str, Any]) -> bool:
    return str(binding.get("type", "")).lower() == "http" and str(binding.get("direction", "in")).lower() == "out"


def function_json_folders(app_dir: Path) -> list[Path]:
    """The app's function folders: direct subfolders holding a ``function.json``."""
    return sorted(path.parent for path in app_dir.glob("*/function.json"))


def load_v1_functions(app_dir: Path) -> list[FunctionSpec]:
    """Read every ``function.json`` and import the functions that are not disabled."""
    install_app_namespace(app_dir)
    functions = []
    for folder in function_json_folders(app_dir):
        spec = _load_folder(app_dir, folder)
        if spec is not None:
            functions.append(spec)
    return functions


def _read_function_json(path: Path) -> dict[str, Any]:
    try:
        data = read_json_config(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("bindings"), list):
        raise ConfigError(f"{path} must hold a JSON object with a 'bindings' list")
    for binding in data["bindings"]:
        if not isinstance(binding, dict) or not isinstance(binding.get("type"), str) or "name" not in binding:
            raise ConfigError(f"{path}: every binding needs a 'type' and a 'name', got {binding!r}")
    return data


def _disabled(name: str, config: dict[str, Any]) -> bool:
    setting = os.environ.get(f"AzureWebJobs.{name}.Disabled", "")
    return config.get("disabled") is True or setting.strip().lower() in ("true", "1")


def _load_folder(app_dir: Path, folder: Path) -> FunctionSpec | None:
    name = folder.name
    path = folder / "function.json"
    config = _read_function_json(path)
    if _disabled(name, config):
        return None
    script = (folder / str(config.get("scriptFile") or DEFAULT_SCRIPT)).resolve()
    if not script.is_relative_to(app_dir):
        raise ConfigError(f"{path}: scriptFile {script} is outside the app folder {app_dir}")
    if script.suffix != ".py" or not script.is_file():
        raise ConfigError(f"{path}: scriptFile {script} is not a Python file that exists")
    relative = script.relative_to(app_dir)
    parts = [APP_NAMESPACE, *relative.parts[:-1]]
    if script.stem != "__init__":
        parts.append(script.stem)
    module = import_app_module(".".join(parts), app_dir, str(script))
    entry_point = str(config.get("entryPoint") or DEFAULT_ENTRY_POINT)
    fn = getattr(module, entry_point, None)
    if fn is None or not callable(fn):
        raise ConfigError(
            f"{path}: {relative} has no function {entry_point}() (set 'entryPoint' to the function's name)"
        )
    return FunctionSpec(name=name, fn=fn, bindings=list(config["bindings"]), origin=str(path))
