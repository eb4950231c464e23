"""The engine's data: functions, bindings, catalogs and call results.

Everything here is a frozen keyword-only dataclass made of JSON values, because the
catalog and every tool result live in Durable Functions history: `to_dict()` gives plain
JSON and `from_dict()` rebuilds the same object after a replay.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

__all__ = [
    "RUN_ID_HEADER",
    "BodyBinding",
    "CallbackSpec",
    "Catalog",
    "ParamBinding",
    "Problem",
    "SecurityBinding",
    "ToolFunction",
    "ToolInfo",
    "ToolResult",
]

ParamLocation = Literal["path", "query", "header", "cookie"]

RUN_ID_HEADER = "X-Toolmesh-Run-Id"
"""Names the run a call is made for, so a service can keep each run's data apart. Set by `invoke`
from its caller, never from the model's arguments: no model-visible parameter may carry it."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ParamBinding:
    """How one argument becomes a path, query, header or cookie parameter."""

    arg: str
    """Argument name the model uses (renamed `name__location` on a collision)."""
    name: str
    location: str
    style: str
    explode: bool
    required: bool = False
    allow_reserved: bool = False
    content_type: str | None = None
    """Set for parameters described with `content`: the value is serialized as JSON."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class BodyBinding:
    """How arguments become the request body."""

    media_type: str
    whole_arg: str | None = None
    """When the body is not a flat object: the one argument holding all of it."""
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    """Flat bodies: argument name -> body property name."""
    required: bool = False
    binary_fields: list[str] = dataclasses.field(default_factory=list)
    """Multipart properties sent as file parts."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class SecurityBinding:
    """One credential to inject: which scheme, how it is sent, which setting holds it."""

    scheme: str
    kind: str
    """apiKey | basic | bearer (bearer also serves oauth2 and openIdConnect)."""
    location: str
    param_name: str
    setting: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class CallbackSpec:
    """An OpenAPI callback whose URL the run supplies (hidden from the model)."""

    name: str
    expression: str
    location: str
    """body | query | header: where the callback URL goes in the request."""
    target: str
    """JSON pointer into the body (`/callback_url`), or the parameter name."""
    timeout_seconds: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class WaitSpec:
    """After a successful call, wait for an outside event whose data matches the run (see waits.py)."""

    event: str
    match: dict[str, str]
    """Event data field (dotted) -> input.<name> | arguments.<name> | response.<path>."""
    timeout_seconds: float | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ToolFunction:
    """One operation as a function the model can call, with what `invoke` needs to call it."""

    name: str
    tool: str
    operation_id: str
    method: str
    path: str
    description: str
    parameters: dict[str, Any]
    strict_parameters: dict[str, Any] | None = None
    strict_reason: str | None = None
    needs_approval: bool = False
    approval_required: bool = False
    """The approval is demanded by the spec or the registry's ``always``: a run may not waive it."""
    callback: CallbackSpec | None = None
    wait: WaitSpec | None = None
    size_chars: int = 0
    approx_tokens: int = 0
    params: list[ParamBinding] = dataclasses.field(default_factory=list)
    body: BodyBinding | None = None
    security: list[list[SecurityBinding]] = dataclasses.field(default_factory=list)
    """Alternatives (any one suffices), each a list of credentials sent together."""
    schema_note: str | None = None
    """Why the parameter schema was shortened, when it was."""
    server_path: str = ""
    """Path of a relative server URL in the spec (`/api/v3`), put between base_url and path."""

    def openai_tool(self, strict: bool = False) -> dict[str, Any]:
        """The OpenAI `tools` entry; strict only when a strict variant exists."""
        use_strict = strict and self.strict_parameters is not None
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.strict_parameters if use_strict else self.parameters,
                "strict": use_strict,
            },
        }

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolFunction:
        values = dict(data)
        values["params"] = [ParamBinding(**p) for p in values.get("params") or []]
        body = values.get("body")
        values["body"] = BodyBinding(**body) if body else None
        callback = values.get("callback")
        values["callback"] = CallbackSpec(**callback) if callback else None
        wait = values.get("wait")
        values["wait"] = WaitSpec(**wait) if wait else None
        values["security"] = [[SecurityBinding(**s) for s in alt] for alt in values.get("security") or []]
        return cls(**values)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Problem:
    """Something that could not be loaded or converted, and why."""

    tool: str | None
    operation: str | None
    pointer: str | None
    reason: str

    def __str__(self) -> str:
        where = " ".join(x for x in (self.tool, self.operation) if x) or "spec"
        at = f" at {self.pointer}" if self.pointer else ""
        return f"{where}{at}: {self.reason}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ToolInfo:
    """A loaded tool: where it runs and which settings hold its credentials (never values)."""

    name: str
    base_url: str
    spec: str
    auth: dict[str, str] = dataclasses.field(default_factory=dict)
    timeout_seconds: float = 30.0
    tags: list[str] = dataclasses.field(default_factory=list)
    functions: list[str] = dataclasses.field(default_factory=list)
    size_chars: int = 0
    approx_tokens: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Catalog:
    """Every function of every loaded tool, plus what failed to load."""

    tools: dict[str, ToolInfo] = dataclasses.field(default_factory=dict)
    functions: list[ToolFunction] = dataclasses.field(default_factory=list)
    problems: list[Problem] = dataclasses.field(default_factory=list)

    def function(self, name: str) -> ToolFunction | None:
        for fn in self.functions:
            if fn.name == name:
                return fn
        return None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Catalog:
        return cls(
            tools={name: ToolInfo(**info) for name, info in (data.get("tools") or {}).items()},
            functions=[ToolFunction.from_dict(f) for f in data.get("functions") or []],
            problems=[Problem(**p) for p in data.get("problems") or []],
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ToolResult:
    """The outcome of one call, written for the model; never an exception."""

    ok: bool
    status: int | None = None
    content_type: str | None = None
    body: str = ""
    truncated: bool = False
    error: str | None = None
    retryable: bool = False
    attempts: int = 1
    """Requests made for this call, retries included."""
    input_required: dict[str, Any] | None = None
    """A tool that needs a person's input before it can finish (MCP elicitation): ``questions``
    (by key: ``message`` and the JSON ``schema`` of the answer) and the server's opaque ``state``."""
    task: dict[str, Any] | None = None
    """A long-running MCP tool still at work as a task: its ``id``, ``status``, ``message``, and the
    ``poll_interval_ms`` and ``ttl_ms`` its server gave; the run waits for it durably."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolResult:
        return cls(**data)
