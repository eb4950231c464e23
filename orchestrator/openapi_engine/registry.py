"""The tool registry: which tools exist, where they run, and how to call them.

`registry.yaml` is written by operators, so every entry is validated on load and every
mistake is reported at once, naming the tool and the field. `${VAR}` and
`${VAR:-default}` are read from the environment given to `load_registry` (never from
`os.environ` directly), so the same file serves local runs, containers and Azure.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .documents import is_url
from .errors import RegistryError
from .models import WaitSpec
from .waits import parse_wait

__all__ = ["Registry", "ToolEntry", "ToolFilter", "load_registry", "parse_registry"]

TOOL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
Approval = Literal["safe-methods", "always", "never"]
Kind = Literal["openapi", "mcp"]
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")


class _Filter(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tags: list[str] = Field(default_factory=list)
    operations: list[str] = Field(default_factory=list)
    methods: list[str] = Field(default_factory=list)

    @field_validator("methods")
    @classmethod
    def _methods(cls, value: list[str]) -> list[str]:
        allowed = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
        bad = [m for m in value if m.lower() not in allowed]
        if bad:
            raise ValueError(f"unknown HTTP methods {bad}")
        return [m.lower() for m in value]


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Kind = "openapi"
    spec: str | None = Field(default=None, min_length=1)
    base_url: str | None = Field(default=None, min_length=1)
    url: str | None = Field(default=None, min_length=1)
    """The endpoint of an `mcp` entry (streamable HTTP)."""
    auth: dict[str, str] = Field(default_factory=dict)
    include: _Filter = Field(default_factory=_Filter)
    exclude: _Filter = Field(default_factory=_Filter)
    approval: Approval = "safe-methods"
    approval_overrides: dict[str, Literal["always", "required", "never", "safe-methods"]] = Field(default_factory=dict)
    timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    tags: list[str] = Field(default_factory=list)
    waits: dict[str, Any] = Field(default_factory=dict)
    """operationId -> a wait for an outside event after the call (the form of x-toolmesh-wait)."""
    enabled: bool = True
    allowed_ref_hosts: list[str] = Field(default_factory=list)

    @field_validator("base_url", "url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None and not is_url(value):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return None if value is None else value.rstrip("/")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> _Entry:
        if self.kind == "mcp":
            if self.url is None:
                raise ValueError("an mcp entry needs url (its streamable HTTP endpoint)")
            if self.spec is not None or self.base_url is not None or self.allowed_ref_hosts:
                raise ValueError("an mcp entry takes url, not spec, base_url or allowed_ref_hosts")
            bad = [header for header in self.auth if not _HEADER.fullmatch(header)]
            if bad:
                raise ValueError(f"auth of an mcp entry maps header names (or 'bearer') to settings; bad: {bad}")
        elif self.spec is None or self.base_url is None or self.url is not None:
            raise ValueError("an openapi entry needs spec and base_url (url is for kind: mcp)")
        return self

    @field_validator("waits")
    @classmethod
    def _waits(cls, value: dict[str, Any]) -> dict[str, Any]:
        for operation, raw in value.items():
            try:
                parse_wait(raw)
            except ValueError as exc:
                raise ValueError(f"{operation}: {exc}") from None
        return value

    @field_validator("auth")
    @classmethod
    def _auth(cls, value: dict[str, str]) -> dict[str, str]:
        for scheme, setting in value.items():
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", setting):
                raise ValueError(f"scheme {scheme!r}: setting name {setting!r} must be an identifier")
        return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class ToolFilter:
    """Operations selected by tag, operationId or HTTP method (empty: no constraint)."""

    tags: list[str] = dataclasses.field(default_factory=list)
    operations: list[str] = dataclasses.field(default_factory=list)
    methods: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ToolEntry:
    """One registered tool, with environment variables already substituted."""

    name: str
    spec: str
    """Absolute file path or http(s) URL of the spec."""
    base_url: str
    auth: dict[str, str]
    include: ToolFilter
    exclude: ToolFilter
    approval: str
    approval_overrides: dict[str, str]
    timeout_seconds: float
    tags: list[str]
    enabled: bool
    allowed_ref_hosts: list[str]
    kind: str = "openapi"
    """openapi: `spec` and `base_url` describe the tool; mcp: both are the MCP endpoint."""
    waits: dict[str, WaitSpec] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Registry:
    """All registered tools, in file order."""

    source: str
    tools: dict[str, ToolEntry]

    def enabled(self) -> list[ToolEntry]:
        return [tool for tool in self.tools.values() if tool.enabled]


def _interpolate(value: Any, environ: Mapping[str, str], missing: list[str]) -> Any:
    if isinstance(value, str):

        def sub(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            missing.append(name)
            return ""

        return _ENV.sub(sub, value)
    if isinstance(value, list):
        return [_interpolate(v, environ, missing) for v in value]
    if isinstance(value, dict):
        return {k: _interpolate(v, environ, missing) for k, v in value.items()}
    return value


def load_registry(path: str | Path, *, environ: Mapping[str, str] | None = None) -> Registry:
    """Read and validate a registry file; raises RegistryError listing every bad entry."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(source, [f"cannot read file: {exc.strerror or exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(source, [f"invalid YAML: {exc}"]) from None
    base_dir = Path(path).resolve().parent.parent
    return parse_registry(data, source=source, base_dir=base_dir, environ=environ)


def parse_registry(data: Any, *, source: str, base_dir: Path, environ: Mapping[str, str] | None = None) -> Registry:
    """Validate already-parsed registry data; relative spec paths are taken from `base_dir`."""
    env = os.environ if environ is None else environ
    if not isinstance(data, dict) or not isinstance(data.get("tools"), dict):
        raise RegistryError(source, ["the file must be a mapping with a 'tools' mapping"])
    unknown = sorted(set(data) - {"tools"})
    problems = [f"unknown top-level key {key!r}" for key in unknown]
    tools: dict[str, ToolEntry] = {}
    for name, raw in data["tools"].items():
        name = str(name)
        if not TOOL_NAME.match(name):
            problems.append(f"tool {name!r}: name must match {TOOL_NAME.pattern}")
            continue
        if not isinstance(raw, dict):
            problems.append(f"tool {name!r}: entry must be a mapping")
            continue
        missing: list[str] = []
        values = _interpolate(raw, env, missing)
        for var in missing:
            problems.append(f"tool {name!r}: environment variable {var} is not set and has no default")
        try:
            entry = _Entry.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(p) for p in error["loc"]) or "(entry)"
                problems.append(f"tool {name!r}: field {field}: {error['msg']}")
            continue
        if entry.url is not None:
            spec = base_url = entry.url
        else:
            assert entry.spec is not None and entry.base_url is not None
            base_url = entry.base_url
            spec = entry.spec.replace("{base_url}", base_url)
            if not is_url(spec):
                spec = str(Path(spec) if Path(spec).is_absolute() else (base_dir / spec).resolve())
        tools[name] = ToolEntry(
            name=name,
            kind=entry.kind,
            spec=spec,
            base_url=base_url,
            auth=dict(entry.auth),
            include=ToolFilter(**entry.include.model_dump()),
            exclude=ToolFilter(**entry.exclude.model_dump()),
            approval=entry.approval,
            approval_overrides=dict(entry.approval_overrides),
            timeout_seconds=entry.timeout_seconds,
            tags=list(entry.tags),
            enabled=entry.enabled,
            allowed_ref_hosts=list(entry.allowed_ref_hosts),
            waits={operation: parse_wait(raw) for operation, raw in entry.waits.items()},
        )
    if problems:
        raise RegistryError(source, problems)
    return Registry(source=source, tools=tools)
