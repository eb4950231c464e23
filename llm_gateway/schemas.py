"""Wire models of the gateway's HTTP API.

OpenAI requests are foreign documents: they allow extra keys (new OpenAI parameters pass
through to the upstream untouched) and are checked only as far as the gateway relies on them.
The gateway's own responses (usage, models, health) are strict.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatCompletionRequest",
    "ChatMessage",
    "EmbeddingRequest",
    "ErrorBody",
    "ErrorDetail",
    "FunctionDefinition",
    "GroupBy",
    "Health",
    "ModelCard",
    "ModelList",
    "StreamOptions",
    "ToolDefinition",
    "UsageGroup",
    "UsageList",
    "UsageRecord",
    "UsageTotals",
]


class _Foreign(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Own(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatMessage(_Foreign):
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class FunctionDefinition(_Foreign):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ToolDefinition(_Foreign):
    type: Literal["function"]
    function: FunctionDefinition


class StreamOptions(_Foreign):
    include_usage: bool | None = None


class ChatCompletionRequest(_Foreign):
    """The subset of OpenAI's chat completion request the gateway checks; the rest passes through."""

    model: str = Field(min_length=1, description="A model alias served by this gateway, e.g. `default`.")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)


class EmbeddingRequest(_Foreign):
    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] | None = None


class ErrorDetail(_Own):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorBody(_Own):
    error: ErrorDetail


class ModelCard(_Own):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str
    providers: list[str] = Field(description="Provider of each deployment, in fallback order.")
    offline: bool = Field(description="True when the alias is served by the deterministic offline provider.")
    description: str = ""


class ModelList(_Own):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class UsageRecord(_Own):
    id: int
    created: float
    key: str
    run_id: str | None
    model: str
    deployment: str
    endpoint: str
    stream: bool
    status: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    estimated: bool = Field(description="Token counts estimated by the gateway (offline provider).")
    latency_ms: float
    cost_usd: float = Field(description="From the deployment's configured price (0 without one).")


class UsageTotals(_Own):
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float


GroupBy = Literal["model", "key", "run_id", "deployment"]
"""Columns the usage log can be summed by (closed list: it is spliced into SQL)."""


class UsageGroup(_Own):
    value: str | None = Field(description="The model, key, run id or deployment of this group.")
    requests: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    cost_usd: float


class UsageList(_Own):
    object: Literal["list"] = "list"
    data: list[UsageRecord]
    totals: UsageTotals
    groups: list[UsageGroup] | None = Field(
        default=None, description="Totals per value of `group_by`, largest first (only when asked)."
    )
    dropped: int = Field(description="Records dropped because the log writer fell behind (0 when healthy).")


class Health(_Own):
    status: Literal["ok", "unready"]
    checks: dict[str, str] = Field(default_factory=dict)
