"""A small stand-in for the toolmesh run API, for fast CLI and console tests.

It follows the HTTP contract (paths, status codes, error bodies, progress and report
shapes) with a scripted run instead of an agent: the objective is split into tasks on
" then ", each task makes one tool call, and a task mentioning "delete" asks for approval
while one mentioning "ask" sends a message and waits for a reply. Runs advance every
``FAKE_STEP_SECONDS`` (default 0.3). ``FAKE_API_KEY`` is the function key it demands.
The tests that depend on the real behaviour use the real mesh instead.

Run: ``uvicorn tests.console.fake_api:app``.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from console import console_headers, render_console

STEP_SECONDS = float(os.environ.get("FAKE_STEP_SECONDS", "0.3"))
API_KEY = os.environ.get("FAKE_API_KEY", "fake-key")
BUDGET_RANGES = {
    "max_iterations": (1, 200),
    "max_tool_calls_per_task": (1, 50),
    "max_tool_calls": (1, 1000),
    "max_tokens": (1000, 5_000_000),
    "deadline_seconds": (10, 2_592_000),
}
CATALOG = {
    "notes": [
        ("notes_createNote", "Create a note.", False),
        ("notes_deleteNote", "Delete a note for good.", True),
    ],
    "mailbox": [("mailbox_sendMessage", "Send a message to a person and wait for the reply.", False)],
}


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class FakeRun:
    id: str
    objective: str
    tasks: list[str]
    max_iterations: int
    status: str = "Running"
    created: str = field(default_factory=_now)
    updated: str = field(default_factory=_now)
    index: int = 0
    done: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)
    decisions: dict[str, bool] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)
    replies: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False
    output: dict[str, Any] | None = None

    def usage(self) -> dict[str, int]:
        calls = len(self.calls)
        return {
            "llm_calls": 2 * len(self.done) + 1,
            "prompt_tokens": 100 * len(self.done),
            "completion_tokens": 20 * len(self.done),
            "total_tokens": 120 * len(self.done),
            "tool_calls": calls,
        }

    def progress(self) -> dict[str, Any]:
        current = {"id": self.index + 1, "task": self.tasks[self.index]} if self.index < len(self.tasks) else None
        phase = "waiting" if self.approvals or self.waiting else "executing"
        return {
            "phase": "done" if self.output else phase,
            "iteration": len(self.done),
            "current_task": None if self.output else current,
            "pending": [{"id": i + 1, "task": t} for i, t in enumerate(self.tasks) if i > self.index],
            "done": self.done,
            "tool_calls": self.calls[-20:],
            "approvals": self.approvals,
            "waiting": self.waiting,
            "usage": self.usage(),
            "execution": 0,
        }

    def finish(self, outcome: str, reason: str) -> None:
        self.output = {
            "objective": self.objective,
            "outcome": outcome,
            "stop_reason": reason,
            "tasks": [{**t, "tool_calls": []} for t in self.done],
            "pending": [{"id": i + 1, "task": t} for i, t in enumerate(self.tasks) if i >= self.index],
            "usage": self.usage(),
            "summary": f"{len(self.done)} of {len(self.tasks)} tasks done.",
            "model": "fake",
        }
        self.status = "Completed"

    def step(self) -> None:
        """Advance by one step unless waiting for a person."""
        self.updated = _now()
        if self.cancelled:
            self.approvals.clear()
            self.waiting.clear()
            self.finish("cancelled", "cancelled by request")
            return
        if self.index >= len(self.tasks):
            self.finish("completed", "objective met")
            return
        if len(self.done) >= self.max_iterations:
            self.finish("budget_exhausted", "max_iterations")
            return
        task = self.tasks[self.index]
        call_id = f"call_{self.index + 1}"
        if "delete" in task.lower():
            if call_id in self.decisions:
                approved = self.decisions[call_id]
                self.approvals.clear()
                self._complete(task, call_id, "notes_deleteNote", approved, "deleted" if approved else "denied")
            elif not self.approvals:
                self.approvals.append(
                    {
                        "call_id": call_id,
                        "tool": "notes",
                        "function": "notes_deleteNote",
                        "arguments": '{"id": 1}',
                        "asked_at": _now(),
                        "expires_at": None,
                    }
                )
            return
        if "archive" in task.lower():
            if call_id in self.decisions:
                self.approvals.clear()
                reason = ((self.answers.get(call_id) or {}).get("why") or {}).get("reason")
                summary = f"archived: {reason}" if self.decisions[call_id] else "not archived"
                self._complete(task, call_id, "projects_archive", self.decisions[call_id], summary)
            elif not self.approvals:
                question = {
                    "message": "Why should it be archived?",
                    "schema": {"type": "object", "properties": {"reason": {"type": "string", "title": "Reason"}}},
                }
                self.approvals.append(
                    {
                        "call_id": call_id,
                        "tool": "projects",
                        "function": "projects_archive",
                        "arguments": '{"name": "old"}',
                        "kind": "input",
                        "questions": {"why": question},
                        "asked_at": _now(),
                        "expires_at": None,
                    }
                )
            return
        if "ask" in task.lower():
            if call_id in self.replies:
                self.waiting.clear()
                self._complete(task, call_id, "mailbox_sendMessage", True, f"reply: {self.replies[call_id]}")
            elif not self.waiting:
                self.waiting.append(
                    {
                        "call_id": call_id,
                        "function": "mailbox_sendMessage",
                        "kind": "callback",
                        "since": _now(),
                        "expires_at": None,
                        "message": f"Question: {task}",
                    }
                )
            return
        self._complete(task, call_id, "notes_createNote", True, f"note saved for {task}")

    def _complete(self, task: str, call_id: str, function: str, ok: bool, summary: str) -> None:
        self.calls.append(
            {
                "call_id": call_id,
                "task_id": self.index + 1,
                "function": function,
                "arguments": f'{{"title": "{task[:20]}"}}',
                "ok": ok,
                "status": 200 if ok else 403,
                "summary": summary,
            }
        )
        self.done.append({"id": self.index + 1, "task": task, "result": f"<b>{summary}</b>"})
        self.index += 1

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "objective": self.objective,
            "created": self.created,
            "updated": self.updated,
            "progress": self.progress(),
            "output": self.output,
        }


RUNS: dict[str, FakeRun] = {}


async def _advance() -> None:
    while True:
        await asyncio.sleep(STEP_SECONDS)
        for run in list(RUNS.values()):
            if run.output is None:
                run.step()


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(_advance())
    yield
    task.cancel()


app = FastAPI(lifespan=_lifespan)


def _error(status: int, message: str, field: str | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "field": field}}, status_code=status)


@app.middleware("http")
async def _require_key(request: Request, call_next: Any) -> Response:
    if request.url.path.startswith("/api/"):
        given = request.headers.get("x-functions-key") or request.query_params.get("code") or ""
        if not secrets.compare_digest(given, API_KEY):
            return _error(401, "missing or invalid function key")
    response: Response = await call_next(request)
    return response


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/console")
def console_page() -> HTMLResponse:
    return HTMLResponse(render_console(), headers=console_headers())


def _validate(body: Any) -> tuple[str, list[str], int] | JSONResponse:
    if not isinstance(body, dict):
        return _error(400, "the request body must be a JSON object")
    objective = body.get("objective")
    if not isinstance(objective, str) or not objective.strip():
        return _error(400, "objective: String should have at least 1 character", "objective")
    budgets = body.get("budgets") or {}
    for name, value in budgets.items():
        low, high = BUDGET_RANGES.get(name, (None, None))
        if low is None or high is None:
            return _error(400, f"budgets.{name}: Extra inputs are not permitted", f"budgets.{name}")
        if not isinstance(value, int) or not low <= value <= high:
            return _error(400, f"budgets.{name}: must be an integer from {low} to {high}", f"budgets.{name}")
    tasks = body.get("initial_tasks") or [part.strip() for part in objective.split(" then ") if part.strip()]
    return objective.strip(), list(tasks), int(budgets.get("max_iterations", 8))


@app.post("/api/runs")
async def start_run(request: Request) -> Response:
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "the request body is not valid JSON")
    checked = _validate(body)
    if isinstance(checked, JSONResponse):
        return checked
    objective, tasks, max_iterations = checked
    run = FakeRun(id=secrets.token_hex(8), objective=objective, tasks=tasks, max_iterations=max_iterations)
    RUNS[run.id] = run
    base = f"{request.base_url}api/runs/{run.id}"
    links = {
        "id": run.id,
        "status_url": base,
        "cancel_url": base + "/cancel",
        "approvals_url": base + "/approvals",
    }
    return JSONResponse(links, status_code=202, headers={"Location": base})


@app.get("/api/runs")
def list_runs(status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    runs = [r for r in RUNS.values() if not status or r.status == status]
    runs.sort(key=lambda r: r.created, reverse=True)
    return [{k: r.view()[k] for k in ("id", "status", "objective", "created", "updated")} for r in runs[:limit]]


@app.get("/api/runs/{run_id}")
def get_run(run_id: str) -> Response:
    run = RUNS.get(run_id)
    if run is None:
        return _error(404, f"no run with id {run_id!r}")
    return JSONResponse(run.view())


@app.post("/api/runs/{run_id}/approvals/{call_id}")
async def approve(run_id: str, call_id: str, request: Request) -> Response:
    run = RUNS.get(run_id)
    if run is None:
        return _error(404, f"no run with id {run_id!r}")
    body = await request.json()
    if not isinstance(body, dict) or not isinstance(body.get("approve"), bool):
        return _error(400, "approve: a boolean is required", "approve")
    if run.output is not None:
        return _error(409, f"run {run_id} has already finished")
    if not any(a["call_id"] == call_id for a in run.approvals):
        return _error(404, f"run {run_id} is not waiting for approval of call {call_id!r}")
    run.decisions[call_id] = body["approve"]
    run.answers[call_id] = body.get("input")
    return JSONResponse({"id": run_id, "call_id": call_id, "approve": body["approve"]}, status_code=202)


@app.post("/api/runs/{run_id}/replies/{call_id}")
async def reply(run_id: str, call_id: str, request: Request) -> Response:
    run = RUNS.get(run_id)
    if run is None:
        return _error(404, f"no run with id {run_id!r}")
    body = await request.json()
    if not isinstance(body, dict) or not isinstance(body.get("reply"), str) or not body["reply"].strip():
        return _error(400, "reply: a non-empty string is required", "reply")
    if not any(w["call_id"] == call_id for w in run.waiting):
        return _error(404, f"run {run_id} is not waiting for a reply to call {call_id!r}")
    run.replies[call_id] = body["reply"]
    return JSONResponse({"id": run_id, "call_id": call_id}, status_code=202)


@app.post("/api/runs/{run_id}/cancel")
def cancel(run_id: str) -> Response:
    run = RUNS.get(run_id)
    if run is None:
        return _error(404, f"no run with id {run_id!r}")
    if run.output is not None:
        return _error(409, f"run {run_id} has already finished ({run.status})")
    run.cancelled = True
    return JSONResponse({"id": run_id, "status": "cancelling"}, status_code=202)


def _tool(name: str, full: bool) -> dict[str, Any]:
    return {
        "name": name,
        "base_url": f"http://127.0.0.1:1/{name}",
        "functions": [
            {
                "name": fn,
                "description": desc,
                "needs_approval": asks,
                "size_chars": 100 + len(desc),
                "approx_tokens": 25 + len(desc) // 4,
                **({"parameters": {"type": "object", "properties": {"id": {"type": "integer"}}}} if full else {}),
            }
            for fn, desc, asks in CATALOG[name]
        ],
    }


@app.get("/api/tools")
def tools() -> dict[str, Any]:
    return {"tools": [_tool(name, False) for name in CATALOG], "problems": []}


@app.post("/api/tools/reload")
def reload_tools() -> dict[str, Any]:
    return tools()


@app.get("/api/tools/{name}")
def tool(name: str) -> Response:
    if name not in CATALOG:
        return _error(404, f"no tool named {name!r} in the registry")
    return JSONResponse(_tool(name, True))
