"""A small synchronous client for the toolmesh run API, shared by every CLI command.

It speaks only the public HTTP contract (the same one the web console and curl use), so the
CLI works unchanged against the local host and an Azure Function App. Errors come back as
``ApiError`` carrying the API's own message and field, or ``ApiConnectionError``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from toolmesh_cli.config import ApiTarget
from toolmesh_cli.errors import ApiConnectionError, ApiError, RunNotFoundError
from toolmesh_cli.run_stream import StreamedEvent, stream_run_events
from toolmesh_cli.schemas import CatalogTool, RunCreated, RunStatus, RunSummary, Schedule, Timeline, ToolCatalog

__all__ = ["DEFAULT_TIMEOUT", "ApiClient", "start_body"]

_M = TypeVar("_M", bound=BaseModel)

DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
"""Per request: the API answers quickly even for long runs (they are polled, never awaited)."""


def _error_from(response: httpx.Response) -> ApiError:
    message = response.reason_phrase or "error"
    field: str | None = None
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = str(error.get("message") or message)
            raw_field = error.get("field")
            field = str(raw_field) if raw_field else None
        elif isinstance(error, str):
            message = error
        elif "detail" in body:
            message = str(body["detail"])
    elif response.text:
        message = response.text[:300]
    if response.status_code == 401:
        message = (
            f"{message}: the API needs a function key (--key or TOOLMESH_FUNCTIONS_KEY)"
            if message
            else "missing or wrong function key"
        )
    kind = RunNotFoundError if response.status_code == 404 else ApiError
    return kind(response.status_code, message, field)


class ApiClient:
    """The run API at one origin; use as a context manager so the connection pool closes."""

    def __init__(self, target: ApiTarget, *, transport: httpx.BaseTransport | None = None) -> None:
        headers = {"accept": "application/json", "user-agent": "toolmesh-cli"}
        if target.key:
            headers["x-functions-key"] = target.key
        self.url = target.url
        self._http = httpx.Client(base_url=target.url, headers=headers, timeout=DEFAULT_TIMEOUT, transport=transport)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiConnectionError(
                f"cannot reach the toolmesh API at {self.url} ({type(exc).__name__}: {exc}); "
                "is it running? (`toolmesh up` starts a local one)"
            ) from exc
        if response.status_code >= 400:
            raise _error_from(response)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiConnectionError(
                f"{method} {path} answered HTTP {response.status_code} with non-JSON content"
            ) from exc

    def _parse(self, model: type[_M], data: Any) -> _M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise ApiConnectionError(f"unexpected answer from the API: {exc}") from exc

    def start_run(self, body: Mapping[str, Any]) -> RunCreated:
        return self._parse(RunCreated, self._request("POST", "/api/runs", json=dict(body)))

    def list_runs(self, *, status: str | None = None, limit: int = 50) -> list[RunSummary]:
        params: dict[str, str | int] = {"limit": limit}
        if status:
            params["status"] = status
        data = self._request("GET", "/api/runs", params=params)
        if not isinstance(data, list):
            raise ApiConnectionError("GET /api/runs did not answer a list")
        return [self._parse(RunSummary, item) for item in data]

    def get_run(self, run_id: str) -> RunStatus:
        return self._parse(RunStatus, self._request("GET", f"/api/runs/{_seg(run_id)}"))

    def get_run_raw(self, run_id: str) -> Any:
        return self._request("GET", f"/api/runs/{_seg(run_id)}")

    def run_events(self, run_id: str, *, after: int = 0) -> Iterator[StreamedEvent]:
        """The run's live events after ``after`` until it ends (see ``run_stream``)."""
        return stream_run_events(self._http, f"/api/runs/{_seg(run_id)}/events", after=after, error_of=_error_from)

    def get_timeline_raw(self, run_id: str) -> Any:
        return self._request("GET", f"/api/runs/{_seg(run_id)}/timeline")

    def get_timeline(self, run_id: str) -> Timeline:
        return self._parse(Timeline, self.get_timeline_raw(run_id))

    def approve(self, run_id: str, call_id: str, *, approve: bool, comment: str | None = None) -> Any:
        body: dict[str, Any] = {"approve": approve}
        if comment:
            body["comment"] = comment
        path = f"/api/runs/{_seg(run_id)}/approvals/{_seg(call_id)}"
        return self._request("POST", path, json=body)

    def reply(self, run_id: str, call_id: str, *, reply: str, sender: str) -> Any:
        path = f"/api/runs/{_seg(run_id)}/replies/{_seg(call_id)}"
        return self._request("POST", path, json={"reply": reply, "from": sender})

    def cancel(self, run_id: str) -> Any:
        return self._request("POST", f"/api/runs/{_seg(run_id)}/cancel")

    def say(self, run_id: str, *, author: str, text: str) -> Any:
        """Send the run a message; the stored message (pending until the run takes it)."""
        return self._request("POST", f"/api/runs/{_seg(run_id)}/messages", json={"author": author, "text": text})

    def messages(self, run_id: str, *, after: int = 0, limit: int = 50) -> Any:
        """A page of the run's conversation: ``messages`` and ``next_after``."""
        params = {"after": after, "limit": limit}
        return self._request("GET", f"/api/runs/{_seg(run_id)}/messages", params=params)

    def abort_turn(self, run_id: str, *, author: str) -> Any:
        return self._request("POST", f"/api/runs/{_seg(run_id)}/abort", json={"author": author})

    def tools(self) -> ToolCatalog:
        return self._parse(ToolCatalog, self._request("GET", "/api/tools"))

    def tool(self, name: str) -> CatalogTool:
        return self._parse(CatalogTool, self._request("GET", f"/api/tools/{_seg(name)}"))

    def reload_tools(self) -> ToolCatalog:
        return self._parse(ToolCatalog, self._request("POST", "/api/tools/reload"))

    def agents(self) -> dict[str, Any]:
        data = self._request("GET", "/api/agents")
        if not isinstance(data, dict):
            raise ApiConnectionError("GET /api/agents did not answer an object")
        return data

    def post_event(self, name: str, data: Mapping[str, Any], keep_seconds: int | None = None) -> Any:
        body: dict[str, Any] = {"name": name, "data": dict(data)}
        if keep_seconds is not None:
            body["keep_seconds"] = keep_seconds
        return self._request("POST", "/api/events", json=body)

    def schedules(self) -> list[Schedule]:
        data = self._request("GET", "/api/schedules")
        if not isinstance(data, list):
            raise ApiConnectionError("GET /api/schedules did not answer a list")
        return [self._parse(Schedule, item) for item in data]

    def schedule(self, schedule_id: str) -> Schedule:
        return self._parse(Schedule, self._request("GET", f"/api/schedules/{_seg(schedule_id)}"))

    def create_schedule(self, body: Mapping[str, Any]) -> Any:
        return self._request("POST", "/api/schedules", json=dict(body))

    def control_schedule(self, schedule_id: str, action: str) -> Any:
        """pause, resume or delete."""
        if action == "delete":
            return self._request("DELETE", f"/api/schedules/{_seg(schedule_id)}")
        return self._request("POST", f"/api/schedules/{_seg(schedule_id)}/{_seg(action)}")


def _seg(value: str) -> str:
    """One path segment, percent-encoded, so an id can never change the path it is put in."""
    return quote(value, safe="")


def _budgets_body(values: Mapping[str, float | None]) -> dict[str, float]:
    """Only the budgets the user set: the server's defaults apply to the rest."""
    return {name: value for name, value in values.items() if value is not None}


def start_body(
    objective: str,
    *,
    initial_tasks: Sequence[str],
    budgets: Mapping[str, float | None],
    tools: Sequence[str],
    model: str | None,
    approval: Mapping[str, str],
) -> dict[str, Any]:
    """The POST /api/runs body for the options given (omitted options keep server defaults)."""
    body: dict[str, Any] = {"objective": objective}
    if initial_tasks:
        body["initial_tasks"] = list(initial_tasks)
    chosen = _budgets_body(budgets)
    if chosen:
        body["budgets"] = chosen
    if tools:
        body["tools"] = list(tools)
    if model:
        body["model"] = model
    if approval:
        body["approval"] = dict(approval)
    return body
