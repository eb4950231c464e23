"""What a caller may ask of a run: the body of ``POST /api/runs``, validated at the edge."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

__all__ = ["Budgets", "RunOptions", "RunRequest", "RunRequestError", "parse_run_request"]

TaskText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
ConfigName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
InputValue = Annotated[str, StringConstraints(max_length=2000)] | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Budgets(_Strict):
    """Hard limits; the run stops with the limit's name as its stop reason when one is reached."""

    max_iterations: int = Field(default=8, ge=1, le=200)
    """Tasks executed at most."""
    max_tool_calls_per_task: int = Field(default=6, ge=1, le=50)
    max_tool_calls: int = Field(default=40, ge=1, le=1000)
    max_tokens: int = Field(default=200_000, ge=1000, le=5_000_000)
    deadline_seconds: int = Field(default=86_400, ge=10, le=2_592_000)
    """Wall-clock limit from the run's start; waits for people count too."""
    max_cost: float | None = Field(default=None, gt=0, le=100_000)
    """USD the run's model steps may cost, at the gateway's prices; none: no limit."""


class RunOptions(_Strict):
    """Tuning that rarely needs changing."""

    continue_every: int = Field(default=5, ge=1, le=100)
    """Iterations per execution before the run continues as new, which keeps history small."""
    max_new_tasks: int = Field(default=8, ge=0, le=20)
    max_tools_per_step: int = Field(default=24, ge=1, le=128)
    """Above this many functions, each task gets the most relevant ones only (BM25 on the task)."""
    approval_timeout_seconds: int = Field(default=86_400, ge=1, le=2_592_000)
    callback_timeout_seconds: int = Field(default=604_800, ge=1, le=2_592_000)
    """Used when neither the registry nor the spec says how long to wait for a callback."""
    retry_first_seconds: float = Field(default=5.0, gt=0, le=3600)
    """First wait before calling a dependency that was away (the gateway, a tool, the memory
    service) again; each further wait doubles, up to ``retry_max_seconds``."""
    retry_max_seconds: float = Field(default=300.0, gt=0, le=86_400)
    """Longest single wait between calls to a dependency that is away."""
    retry_limit_seconds: float | None = Field(default=None, gt=0, le=2_592_000)
    """How long one call may wait for its dependency in all; none: until the run's deadline. Then
    a model step fails the run, and a tool call or memory write fails its task."""
    ask_timeout_seconds: int = Field(default=86_400, ge=1, le=2_592_000)
    """How long the agent waits for an answer when it asks the run's people a question."""
    idle_ttl_seconds: int = Field(default=7 * 86_400, ge=5, le=2_592_000)
    """A chat run ends after this long without a message (it uses no compute while it idles)."""


class RunRequest(_Strict):
    """The objective and everything that bounds its run."""

    objective: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] = ""
    """What the run should achieve; a chat run may leave it out (each message is a turn)."""
    mode: Literal["objective", "chat"] = "objective"
    """``objective``: plan and work toward the objective, taking messages as they come; ``chat``:
    wait for messages and answer each one as a turn, until the idle time-to-live ends the run."""
    initial_tasks: list[TaskText] = Field(default_factory=list, max_length=20)
    budgets: Budgets = Field(default_factory=Budgets)
    tools: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] | None = None
    """Registry tool names or tags; None means every registered tool."""
    model: Annotated[str, StringConstraints(min_length=1, max_length=100)] = "default"
    approval: dict[str, Literal["always", "never", "default"]] = Field(default_factory=dict)
    """Per-run approval overrides, keyed by tool name or function name."""
    options: RunOptions = Field(default_factory=RunOptions)
    agent: ConfigName | None = None
    """An agent of specs/agents.yaml to run every task; None: the built-in default agent."""
    network: ConfigName | None = None
    """A network of specs/agents.yaml: its router picks an agent per task."""
    inputs: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")], InputValue] = Field(
        default_factory=dict
    )
    """Named values of the run (for example a ticketId), which event waits match against."""
    tags: list[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=20
    )
    """Labels of the run; a network's routing rules may match them."""

    @model_validator(mode="after")
    def _one_of_agent_or_network(self) -> RunRequest:
        if self.agent is not None and self.network is not None:
            raise ValueError("name an agent or a network, not both")
        if len(self.inputs) > 50:
            raise ValueError("at most 50 inputs")
        return self

    @field_validator("approval")
    @classmethod
    def _bounded(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 200:
            raise ValueError("at most 200 approval overrides")
        return value


class RunRequestError(ValueError):
    """A bad run request; ``field`` is the dotted path of the first bad field."""

    def __init__(self, message: str, field: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    @classmethod
    def from_validation(cls, exc: ValidationError) -> RunRequestError:
        """The first problem pydantic found, with its field, and how many more there were."""
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = f"{field}: {first['msg']}" if field else first["msg"]
        if len(exc.errors()) > 1:
            message += f" (and {len(exc.errors()) - 1} more problem(s))"
        return cls(message, field)


def parse_run_request(body: Any) -> RunRequest:
    """Validate a decoded JSON body, naming the first bad field in the error."""
    if not isinstance(body, dict):
        raise RunRequestError("the request body must be a JSON object", None)
    try:
        # strict: JSON's true is not the number 1, nor "5" the number 5
        request = RunRequest.model_validate(body, strict=True)
    except ValidationError as exc:
        raise RunRequestError.from_validation(exc) from None
    if request.mode == "objective" and not request.objective:
        raise RunRequestError(
            'objective: a non-empty objective is required (or start a chat with "mode": "chat")', "objective"
        )
    return request
