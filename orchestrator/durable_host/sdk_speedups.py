"""Cheaper SDK replay, installed once at host start, without changing any SDK file or result.

Each episode the SDK rebuilds the whole orchestration from its history, and profiles of the
host under load put about half of its time there. Three costs in that path repeat the same
work every episode; each is replaced by a wrapper that returns what the SDK's own code
returns, and each installer leaves the SDK alone (returning False) when the code it expects
is not there:

- ``HistoryEvent`` parses every ``Timestamp`` with ``dateutil.parser.parse``: the module's
  ``dt_parse`` becomes a :class:`~durable_host.timestamps.TimestampCache` lookup (a C-level
  dictionary hit for timestamps seen before, an exact fast parse for new ones);
- ``TaskOrchestrationExecutor.__init__`` builds a ``namedtuple`` class on every episode:
  that module's ``namedtuple`` returns one class per (name, fields), built by the real
  ``namedtuple`` with the same ``__module__`` (the class only shapes two-field constants);
- ``azure.functions._durable_functions._is_strict_mode`` reads ``os.environ`` (encoding the
  key, raising and catching KeyError when unset) twice per replayed activity result: the
  replacement reads the same live mapping's backing dictionary and memoises the answer per
  raw value, so changing the variable at run time still takes effect at once. It is
  installed only when the original is the known one-liner (checked by its code's names) on
  POSIX, and defers to the original whenever ``os.environ`` is not the standard mapping;
- that same codec module calls ``json.loads(s, object_hook=...)`` for every activity result
  the replay reads, and ``json.dumps(value, default=...)`` for every reply, and ``json``
  builds a fresh decoder or encoder for each call with an option: the module's ``json``
  becomes :class:`ReusingJson`, which keeps one per hook, as ``json`` itself keeps one
  default decoder and encoder for calls without options (they hold no per-call state).
"""

from __future__ import annotations

import collections
import importlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from durable_host.timestamps import TimestampCache

__all__ = ["Installed", "ReusingJson", "install"]

CACHE_SIZE = 1 << 17
MAX_HOOKS = 16
_T = TypeVar("_T")
_MARK = "_durable_host_speedup"
# What the SDK's ``_is_strict_mode`` refers to: ``os.environ.get(_STRICT_ENV_VAR, "").strip().lower() in _TRUTHY``.
_STRICT_MODE_NAMES = ("os", "environ", "get", "_STRICT_ENV_VAR", "strip", "lower", "_TRUTHY")


@dataclass(frozen=True, kw_only=True)
class Installed:
    """Which speedups are in place (each False when the SDK's layout was not the expected one)."""

    timestamps: bool
    namedtuple: bool
    strict_mode: bool
    codec_json: bool


def install() -> Installed:
    """Install every speedup whose target looks as expected; safe to call more than once."""
    return Installed(
        timestamps=_install_timestamps(),
        namedtuple=_install_namedtuple(),
        strict_mode=_install_strict_mode(),
        codec_json=_install_codec_json(),
    )


def _module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def _installed(value: Any) -> bool:
    return getattr(value, _MARK, False) is True or getattr(getattr(value, "__self__", None), _MARK, False) is True


def _install_timestamps() -> bool:
    module = _module("azure.durable_functions.models.history.HistoryEvent")
    parser = _module("dateutil.parser")
    if module is None or parser is None:
        return False
    original = vars(module).get("dt_parse")
    if _installed(original):
        return True
    if original is not getattr(parser, "parse", None):
        return False
    assert original is not None
    cache = TimestampCache(original, CACHE_SIZE)
    setattr(cache, _MARK, True)
    vars(module)["dt_parse"] = cache.__getitem__
    return True


def _install_namedtuple() -> bool:
    module = _module("azure.durable_functions.models.TaskOrchestrationExecutor")
    if module is None:
        return False
    original = vars(module).get("namedtuple")
    if _installed(original):
        return True
    if original is not collections.namedtuple:
        return False
    build: Callable[..., type] = original
    module_name = module.__name__
    classes: dict[tuple[str, tuple[str, ...]], type] = {}

    def namedtuple(typename: Any, field_names: Any, **kwargs: Any) -> type:
        if kwargs or not isinstance(typename, str) or not isinstance(field_names, tuple):
            return build(typename, field_names, module=kwargs.pop("module", module_name), **kwargs)
        key = (typename, field_names)
        cls = classes.get(key)
        if cls is None:
            cls = classes[key] = build(typename, field_names, module=module_name)
        return cls

    setattr(namedtuple, _MARK, True)
    vars(module)["namedtuple"] = namedtuple
    return True


def _install_strict_mode() -> bool:
    module = _module("azure.functions._durable_functions")
    if module is None:
        return False
    original = vars(module).get("_is_strict_mode")
    if _installed(original):
        return True
    code = getattr(original, "__code__", None)
    variable = vars(module).get("_STRICT_ENV_VAR")
    environ_type = type(os.environ)
    if (
        os.name != "posix"
        or code is None
        or code.co_names != _STRICT_MODE_NAMES
        or code.co_argcount != 0
        or not isinstance(variable, str)
        or not isinstance(getattr(os.environ, "_data", None), dict)
    ):
        return False
    assert original is not None
    fallback: Callable[[], bool] = original
    key = os.environ.encodekey(variable)
    answers: dict[Any, bool] = {}

    def _is_strict_mode() -> bool:
        env = os.environ
        if type(env) is not environ_type:
            return fallback()
        raw = env._data.get(key)  # type: ignore[attr-defined]
        answer = answers.get(raw)
        if answer is None:
            value = "" if raw is None else env.decodevalue(raw)
            answer = value.strip().lower() in module._TRUTHY
            if len(answers) >= 64:
                answers.clear()
            answers[raw] = answer
        return answer

    setattr(_is_strict_mode, _MARK, True)
    vars(module)["_is_strict_mode"] = _is_strict_mode
    return True


class ReusingJson:
    """Stands in for the ``json`` module: the same calls and results, decoders and encoders reused.

    Only ``loads(text, object_hook=hook)`` for a ``str`` without a byte-order mark (the case
    where ``json.loads`` is exactly ``JSONDecoder(object_hook=hook).decode(text)``) and
    ``dumps(value, default=hook)`` (exactly ``JSONEncoder(default=hook).encode(value)``) take
    the reused objects; every other call, and every other attribute, is ``json``'s own.
    """

    def __init__(self) -> None:
        self._decoders: dict[Any, json.JSONDecoder] = {}
        self._encoders: dict[Any, json.JSONEncoder] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(json, name)

    def loads(self, s: Any, **kwargs: Any) -> Any:
        hook = kwargs.get("object_hook")
        if hook is None or len(kwargs) != 1 or type(s) is not str or s.startswith("\ufeff"):
            return json.loads(s, **kwargs)
        decoder = self._decoders.get(hook) or _remember(self._decoders, hook, json.JSONDecoder(object_hook=hook))
        return decoder.decode(s)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        hook = kwargs.get("default")
        if hook is None or len(kwargs) != 1:
            return json.dumps(obj, **kwargs)
        encoder = self._encoders.get(hook) or _remember(self._encoders, hook, json.JSONEncoder(default=hook))
        return encoder.encode(obj)


def _remember(objects: dict[Any, _T], hook: Any, made: _T) -> _T:
    """Keep ``made`` for ``hook`` unless many hooks are known already (they are a handful of functions)."""
    if len(objects) < MAX_HOOKS:
        objects[hook] = made
    return made


def _install_codec_json() -> bool:
    module = _module("azure.functions._durable_functions")
    if module is None:
        return False
    current = vars(module).get("json")
    if isinstance(current, ReusingJson):
        return True
    if current is not json:
        return False
    vars(module)["json"] = ReusingJson()
    return True
