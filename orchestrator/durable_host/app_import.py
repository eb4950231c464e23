"""Importing the app's Python code the way the Python worker does, with errors a person can act on.

The worker puts the app folder first on ``sys.path`` and imports the v2 script by its stem
(``function_app``); v1 functions are imported as ``__app__.<folder>[.<module>]`` from a
namespace package rooted at the app folder, so ``from __app__.shared import x`` and relative
imports between folders work as on Azure (``azure_functions_worker/loader.py``, see
docs/durable-host.md, "Loading an app").

Whatever goes wrong while the app's code is imported becomes a :class:`ConfigError` naming the
file, the line and what to do, instead of a traceback through the host.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from durable_host.errors import ConfigError

__all__ = ["APP_NAMESPACE", "import_app_module", "install_app_namespace", "run_app_script"]

APP_NAMESPACE = "__app__"


def install_app_namespace(app_dir: Path) -> None:
    """Register ``__app__`` as a namespace package whose only location is ``app_dir``
    (an earlier app's ``__app__`` modules are forgotten)."""
    existing = sys.modules.get(APP_NAMESPACE)
    locations = [str(app_dir)]
    if existing is not None and list(getattr(existing, "__path__", [])) == locations:
        return
    for name in [n for n in sys.modules if n == APP_NAMESPACE or n.startswith(APP_NAMESPACE + ".")]:
        del sys.modules[name]
    spec = importlib.machinery.ModuleSpec(APP_NAMESPACE, None, is_package=True)
    spec.submodule_search_locations = locations
    sys.modules[APP_NAMESPACE] = importlib.util.module_from_spec(spec)


def run_app_script(path: Path, app_dir: Path) -> ModuleType:
    """Execute the v2 script (``function_app.py``) afresh as the module named by its stem."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    loader = spec.loader

    def execute() -> ModuleType:
        loader.exec_module(module)
        return module

    return _guarded(execute, app_dir, str(path))


def import_app_module(module_name: str, app_dir: Path, shown_as: str) -> ModuleType:
    """Import ``module_name`` with ``app_dir`` first on ``sys.path``; ``shown_as`` names it in errors."""
    return _guarded(lambda: importlib.import_module(module_name), app_dir, shown_as)


def _guarded(load: Callable[[], ModuleType], app_dir: Path, shown_as: str) -> ModuleType:
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    try:
        return load()
    except ModuleNotFoundError as exc:
        missing = exc.name or str(exc)
        raise ConfigError(
            f"{shown_as} imports '{missing}', which is not installed{_where(exc, app_dir)}. "
            f"Add it to {app_dir / 'requirements.txt'} and install it into this Python "
            f"({sys.executable} -m pip install -r requirements.txt), then start the host again."
        ) from None
    except SyntaxError as exc:
        raise ConfigError(
            f"{shown_as} cannot be imported: {exc.msg} ({exc.filename}, line {exc.lineno}). "
            "Fix the syntax error and start the host again."
        ) from None
    except Exception as exc:
        raise ConfigError(
            f"{shown_as} failed while it was imported: {type(exc).__name__}: {exc}{_where(exc, app_dir)}. "
            "The app's module-level code must run without errors; fix it (or the setting it reads) "
            "and start the host again."
        ) from None


def _where(exc: BaseException, app_dir: Path) -> str:
    """`` (at file:line)`` for the deepest frame inside the app folder, if any."""
    frames = [
        frame for frame in traceback.extract_tb(exc.__traceback__) if Path(frame.filename).is_relative_to(app_dir)
    ]
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {last.filename}, line {last.lineno})"
