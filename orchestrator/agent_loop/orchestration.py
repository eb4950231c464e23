"""The agent orchestrator: a bounded BabyAGI loop as a Durable Functions orchestration.

Deterministic by construction: every side effect (model steps, tool calls, memory) is an
activity, time comes from ``context.current_utc_datetime`` and ids from counters in the state.
Every wait is raced against the run's ``cancel`` event, so a cancelled run starts no new
activity. History stays small because the run continues as new every few iterations.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Generator
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskBase, TaskState

from openapi_engine import Catalog, ToolFunction, validate_arguments

from . import activities, agent_setup, conversation, event_waiting, mcp_tasks, timeline
from .activity_contracts import (
    LlmStepInput,
    LoadCatalogInput,
    MemoryStored,
    RecallMemoryInput,
    RecordRunInput,
    SelectedTools,
    SelectToolsInput,
    StepAnswer,
    StepToolCall,
    StoreMemoryInput,
    Timing,
    ToolCallInput,
    ToolCallOutcome,
)
from .agents import AgentConfig, AgentSpec
from .dependency_retry import retry_while_away
from .errors import failure_message
from .live_progress import RunEvents
from .planning import add_new_tasks, apply_priority, budget_stop, one_line, over_cost, parse_json_object
from .progress import build_progress, build_report
from .prompts import create_tasks_messages, execute_task_messages, prioritize_messages, summarize_messages
from .run_request import RunRequest
from .run_signals import CANCEL_EVENT, RunCancelled, RunStopped, TurnAborted
from .state import CallRecord, RunState, Task
from .tooling import functions_for_run, needs_approval, select_for_task

__all__ = [
    "CANCEL_EVENT",
    "ORCHESTRATOR_NAME",
    "RunCancelled",
    "RunStopped",
    "TurnAborted",
    "approval_event",
    "bp",
    "callback_event",
]

ORCHESTRATOR_NAME = "agent_run"
MAX_INPUT_ROUNDS = 5
"""Rounds of questions one tool call may ask the run's people before it is ended."""
REPLAYED_INPUT = activities.REPLAYED_INPUT

bp = df.Blueprint()
log = logging.getLogger("toolmesh.orchestration")

Steps = Generator[TaskBase, Any, Any]
Payload = dict[str, Any] | Callable[[], dict[str, Any]]
Builtin = Callable[["AgentRun", Task, str, dict[str, Any]], Generator[Any, Any, tuple[str, bool]]]
"""A function the run itself answers (waiting for an event, handing off): (reply, ok)."""


def approval_event(call_id: str) -> str:
    return f"approval-{call_id}"


def callback_event(call_id: str) -> str:
    return f"callback-{call_id}"


class ModelStepFailed(Exception):
    """A model step failed after retries; the run ends as failed, keeping what was done."""


class RunSetupFailed(Exception):
    """The run names an agent or network that cannot be used (gone or invalid since it started)."""


def _event_payload(value: Any) -> Any:
    # The real host delivers a client-raised event as a JSON string; a direct POST as an object.
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _without_callback_url(value: Any) -> Any:
    return {k: v for k, v in value.items() if "callback" not in k} if isinstance(value, dict) else value


class AgentRun:
    """One execution of a run: holds the context and state, and yields the Durable tasks."""

    def __init__(self, context: df.DurableOrchestrationContext, payload: dict[str, Any]) -> None:
        self.context = context
        if "state" in payload:
            self.state = RunState.from_dict(payload["state"])
            self.state.execution += 1
            self.request = RunRequest.model_validate(self.state.request)
        else:
            self.request = RunRequest.model_validate(payload)
            self.state = RunState(
                request=self.request.model_dump(mode="json"),
                run_id=context.instance_id,
                started_at=context.current_utc_datetime.isoformat(),
            )
        self.catalog = Catalog(tools={}, functions=[], problems=[])
        # The catalog's own JSON, by function name and by tool, for tool-call inputs: replay
        # rebuilds those inputs every episode, and re-serialising the dataclasses is wasted work.
        self.function_json: dict[str, dict[str, Any]] = {}
        self.tool_json: dict[str, dict[str, Any]] = {}
        self.functions: list[ToolFunction] = []
        # Set when the catalog is too large to offer whole: it stays outside history, and each
        # task's functions come from the select_tools activity.
        self.catalog_ref: str | None = None
        self.approvals: list[dict[str, Any]] = []
        self.waiting: list[dict[str, Any]] = []
        self.retrying: list[dict[str, Any]] = []
        """Calls waiting for a dependency that is away (see dependency_retry), for the progress view."""
        self.agents: AgentConfig | None = None
        self.agent: AgentSpec | None = None
        """The named agent running the tasks (None: the built-in default, today's single agent)."""
        self.builtins: dict[str, tuple[ToolFunction, Builtin]] = {}
        self.sub_runs: list[dict[str, Any]] = []
        """Sub-orchestrations in flight (an agent of the network on a task), for status, cancel and approvals."""
        self.task_ended: str | None = None
        """Set by a built-in that ends the task at once (a handoff), with the task's result."""
        self.events = RunEvents(context, self.state, None)
        """The run's live events, handed to activities to publish (the orchestrator does no I/O)."""
        self.takes_messages = True
        """Whether people's messages reach this run (a network's sub-run hears none: they go to its run)."""
        self.inbox: TaskBase | None = None
        """The open wait for the next message; every race includes it (see agent_loop.conversation)."""
        self.turn: str | None = None
        """The chat turn in progress, which a person may abort."""
        self.abort: TaskBase | None = None
        self.taking = False
        self.asking = False
        self.closing = False
        self.taken_here = 0
        """Messages taken in this execution; past a bound the run continues as new."""
        self._shown: tuple[str, Task | None] = ("planning", None)
        self._executing: Task | None = None
        self._status_stale = False
        self._calls = 0

    # -- plumbing -------------------------------------------------------------------------

    def _now_iso(self) -> str:
        now: datetime = self.context.current_utc_datetime
        return now.isoformat()

    def _status(self, phase: str, current: Task | None = None) -> None:
        """Show the progress, now if this part of the episode is new, else when it becomes new.

        Only the last status an episode sets reaches the host, and replay re-runs every earlier
        step of the execution: building the view for steps already shown is wasted work that
        grows with the history. So a replayed step only notes what to show, and the first wait
        reached live (see :meth:`_show_if_stale`) builds it from the state at that point.
        """
        self._shown = (phase, current)
        self.events.phase(phase, current)
        if self.context.is_replaying:
            self._status_stale = True
        else:
            self._show()

    def _show(self) -> None:
        phase, current = self._shown
        view = build_progress(
            self.state, phase, current=current, approvals=self.approvals, waiting=self.waiting, retrying=self.retrying
        )
        if self.sub_runs:
            view["sub_runs"] = self.sub_runs
        if self.agent is not None:
            view["agent"] = self.agent.name
        if self.takes_messages:
            view["conversation"] = conversation.conversation_view(self, len(json.dumps(view)))
        self.context.set_custom_status(view)
        self._status_stale = False

    def _show_if_stale(self) -> None:
        if self._status_stale and not self.context.is_replaying:
            self._show()

    def show_conversation(self) -> None:
        """The conversation changed: show it with the progress as it stands."""
        self._status(*self._shown)

    def _guarded(self, task: TaskBase) -> Steps:
        """Wait for ``task`` unless the run is cancelled first; return its value.

        A message arriving meanwhile is taken, and the wait goes on (see agent_loop.conversation).
        """
        cancel = self.context.wait_for_external_event(CANCEL_EVENT)
        while True:
            self._show_if_stale()
            winner = yield self.context.task_any([task, cancel, *conversation.listeners(self)])
            if winner is task or winner is cancel:
                break
            yield from conversation.heard(self, winner)
        if winner is cancel:
            raise RunCancelled()
        if winner.state is TaskState.FAILED:
            raise winner.result if isinstance(winner.result, Exception) else RuntimeError(str(winner.result))
        return winner.result

    def _sleep_until(self, wake: datetime) -> Steps:
        """A durable timer raced against cancel."""
        self._show_if_stale()
        timer = self.context.create_timer(wake)
        cancel = self.context.wait_for_external_event(CANCEL_EVENT)
        winner = yield self.context.task_any([timer, cancel])
        if winner is cancel:
            timer.cancel()
            raise RunCancelled()

    def _call(self, function: Any, payload: Payload) -> TaskBase:
        """Schedule an activity; in replay, with a stand-in for an input history already holds.

        Every episode replays the execution from its start, and the SDK serialises the input of
        every activity call again and sends all of them back to the host: model steps carry the
        whole conversation and the tools' schemas, so that work grew with the square of the
        history. Neither host reads the input of a call replay re-issues: the local host takes
        only actions past the execution's cursor, and DTFx matches a replayed call to its
        TaskScheduled event by name and id and drops the new action. ``is_replaying`` is true
        exactly while the code runs on events an earlier episode already handled, and that
        episode scheduled the calls that follow them, so only those get the stand-in. An activity
        that ever received one would fail loudly (``ActivityInput.parse``). ``payload`` may
        be a function, so replay does not even build an input it would replace.

        Each call gets a ``span_key``: its place in the run (execution and call number), the
        same on every replay, from which the activity derives its span id.
        """
        self._calls += 1
        handed = self.events.take() if function in activities.PUBLISHING else []
        if self.context.is_replaying:
            return self.context.call_activity(function, REPLAYED_INPUT)
        built = payload() if callable(payload) else payload
        extra: dict[str, Any] = {"span_key": f"{self.state.execution}.{self._calls}", "stream": self.events.stream}
        if handed:
            extra["events"] = handed
        if self.turn is not None:
            extra["turn"] = self.turn  # the turn's activities stop when it is aborted
        return self.context.call_activity(function, {**built, **extra})

    def _flush_events(self) -> Steps:
        """Have an activity publish the events not yet handed over (before a wait, a new execution, the end)."""
        if self.events.pending:
            yield from self._activity(activities.publish_events, {"run_id": self.state.run_id})

    def _activity(self, function: Any, payload: dict[str, Any]) -> Steps:
        return (yield from self._guarded(self._call(function, payload)))

    def _model_call(
        self,
        step: str,
        messages: Callable[[], list[dict[str, Any]]],
        tools: list[dict[str, Any]] | None = None,
        model: str | None = None,
        call_prefix: str | None = None,
    ) -> TaskBase:
        """Schedule a model step; ``messages`` builds the prompt, which replay never needs.

        ``call_prefix`` is what the run's ids of this step's tool calls start with (the index follows).
        """

        def payload() -> dict[str, Any]:
            optional: dict[str, Any] = {"tools": tools} if tools else {}
            if call_prefix:
                optional["call_prefix"] = call_prefix
            if step in ("create_tasks", "prioritize", "route"):
                optional["response_format"] = {"type": "json_object"}
            built = LlmStepInput(
                run_id=self.state.run_id, step=step, model=model or self.request.model, messages=messages(), **optional
            )
            return built.payload()

        return self._call(activities.llm_step, payload)

    def _model(
        self,
        step: str,
        messages: Callable[[], list[dict[str, Any]]],
        tools: list[dict[str, Any]] | None = None,
        task: Task | None = None,
        model: str | None = None,
        call_prefix: str | None = None,
    ) -> Steps:
        try:
            raw = yield from self._guarded(self._model_call(step, messages, tools, model, call_prefix))
        except RunCancelled:
            raise
        except Exception as exc:  # the activity failed after its own retries
            raise ModelStepFailed(f"{step}: {failure_message(exc)}") from exc
        again = lambda: self._model_call(step, messages, tools, model, call_prefix)  # noqa: E731
        answer = yield from self._model_back(step, raw, again, task)
        self._count_model(step, answer, task)
        if answer.aborted and self.turn is not None:
            raise TurnAborted("a person")  # the turn's abort reached the activity before its event reached the run
        return answer

    def _model_back(self, step: str, raw: Any, again: Callable[[], TaskBase], task: Task | None) -> Steps:
        """The step's answer once the gateway is back; ModelStepFailed when it stayed away too long."""
        raw = yield from retry_while_away(self, "model", step, again, raw if isinstance(raw, dict) else {}, task)
        answer = StepAnswer.model_validate(raw)
        if answer.away:
            raise ModelStepFailed(f"{step}: the gateway stayed away: {answer.away}")
        return answer

    def _count_model(self, step: str, answer: StepAnswer, task: Task | None = None) -> None:
        """Fold a model step's usage, cost and time into the state."""
        usage = answer.usage
        self.state.usage.add_llm(usage.model_dump())
        calls = len(answer.tool_calls)
        self._time_activity(
            "model",
            step,
            answer.timing,
            task_id=task.id if task else None,
            tokens=usage.total_tokens,
            cost_usd=usage.cost_usd,
            detail=f"{calls} tool call(s)" if calls else "",
        )

    def _time_activity(self, kind: str, name: str, timing: Timing | None, **fields: Any) -> None:
        """Put an activity's own timing (see timeline.activity_timing) on the timeline."""
        now = self._now_iso()
        start, end = (timing.start, timing.end) if timing is not None else (now, now)
        self.state.timeline.append(timeline.entry(kind, name, start=start, end=end, **fields))

    def _time_wait(self, kind: str, name: str, since: str, *, task: Task, call_id: str, ok: bool, detail: str) -> None:
        """A wait for a person (or a call not made), timed by the orchestration's clock."""
        self.state.timeline.append(
            timeline.entry(
                kind, name, start=since, end=self._now_iso(), ok=ok, task_id=task.id, call_id=call_id, detail=detail
            )
        )

    def _wait_for_event(self, name: str, seconds: int) -> Steps:
        """An event raced against a timer (and cancel); returns (payload, why the wait ended unanswered).

        The second value is None when the event came, else a sentence for the model naming what
        ended the wait: the wait's own timeout, or the run's deadline when that came first.
        """
        yield from self._flush_events()
        self._show_if_stale()
        deadline = self.context.current_utc_datetime + timedelta(seconds=seconds)
        run_deadline = self._run_deadline()
        timer = self.context.create_timer(min(deadline, run_deadline))
        event = self.context.wait_for_external_event(name)
        cancel = self.context.wait_for_external_event(CANCEL_EVENT)
        try:
            while True:
                self._show_if_stale()
                winner = yield self.context.task_any([event, timer, cancel, *conversation.listeners(self)])
                if winner is event or winner is timer or winner is cancel:
                    break
                yield from conversation.heard(self, winner)  # a message: taken, and the wait goes on
        except RunCancelled:
            timer.cancel()
            raise
        if winner is not timer:
            timer.cancel()
        if winner is cancel:
            raise RunCancelled()
        if winner is timer:
            if run_deadline < deadline:
                budget = self.request.budgets.deadline_seconds
                ended = run_deadline.isoformat()
                return None, f"the run's deadline ({budget} seconds from its start, {ended}) ended the wait"
            return None, f"the wait timed out after {seconds} seconds"
        return _event_payload(event.result), None

    def _run_deadline(self) -> datetime:
        started = datetime.fromisoformat(self.state.started_at)
        return started + timedelta(seconds=self.request.budgets.deadline_seconds)

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> Steps:
        if self.state.execution == 0:
            self.events.run_started(self.request.objective)
        self._status("planning")
        outcome, stop_reason = "completed", ""
        try:
            if self.request.agent or self.request.network:
                problem = yield from agent_setup.load_agents(self)
                if problem:
                    raise RunSetupFailed(problem)
            yield from self._load_catalog()
            self.builtins[conversation.ASK_FUNCTION] = (conversation.ask_function(), conversation.ask_requested)
            yield from conversation.catch_up(self)
            if self.request.mode == "chat":
                ended = yield from conversation.chat(self)
                if ended is None:
                    return None  # continued as new
                outcome, stop_reason = ended
            elif self.state.execution == 0:
                yield from self._first_tasks()
            iterations_here = 0
            while self.request.mode == "objective":
                yield from conversation.take_messages(self)
                stop = budget_stop(self.state, self.context.current_utc_datetime)
                if stop:
                    outcome, stop_reason = "budget_exhausted", stop
                    break
                if not self.state.pending and not self.state.inbox:
                    stop_reason = "no_pending_tasks"
                    break
                if (
                    iterations_here >= self.request.options.continue_every
                    or self.taken_here >= conversation.MESSAGES_PER_EXECUTION
                ):
                    self._status("continuing")
                    yield from self._flush_events()
                    self.context.continue_as_new({"state": self.state.to_dict()})
                    return None
                iterations_here += 1
                if (yield from self._iteration()):
                    stop_reason = "objective_met"
                    break
        except RunStopped as exc:
            outcome, stop_reason = "cancelled", f"stopped by {exc.author}: {one_line(exc.text, 200)}"
        except RunCancelled:
            outcome, stop_reason = "cancelled", "cancelled"
        except ModelStepFailed as exc:
            outcome, stop_reason = "failed", f"model step failed: {exc}"
        except RunSetupFailed as exc:
            outcome, stop_reason = "failed", str(exc)
        except Exception as exc:
            # An activity failure that escaped the steps above, or a defect: the run still ends
            # with its report (the host's log has the traceback), never as a bare failure.
            if not self.context.is_replaying:
                log.warning("run %s failed", self.state.run_id, exc_info=True)
            outcome, stop_reason = "failed", f"failed: {failure_message(exc)}"
        self.closing = True  # messages from now on are refused: the run is ending
        if outcome != "completed":
            self._requeue_interrupted()
        elif any(task.failures for task in self.state.done):
            outcome = "completed_with_failures"  # the report must not hide a task that failed
        self.state.events.append(f"stopped: {stop_reason}")
        summary = yield from self._summary(outcome, stop_reason)
        self.approvals, self.waiting, self.retrying = [], [], []
        self._status("done")
        try:
            yield from conversation.close(self, outcome, stop_reason)
        except RunCancelled:
            pass  # a cancel after the end: the report matters more
        self.events.run_finished(outcome, stop_reason, summary)
        yield from self._record_run(outcome, stop_reason)
        return build_report(
            self.state,
            outcome=outcome,
            stop_reason=stop_reason,
            summary=summary,
            model=self.request.model,
            finished_at=self._now_iso(),
        )

    def _requeue_interrupted(self) -> None:
        """A task cut short by a stop goes back to the front of the pending list, so the report keeps it."""
        task = self._executing
        if task is not None and task not in self.state.done and task not in self.state.pending:
            self.state.pending.insert(0, task)

    def _record_run(self, outcome: str, stop_reason: str) -> Steps:
        """Have an activity report the run's root span; telemetry never fails or holds up the run."""
        payload = RecordRunInput(
            run_id=self.state.run_id,
            started_at=self.state.started_at,
            model=self.request.model,
            usage=asdict(self.state.usage),
            outcome=outcome,
            stop_reason=stop_reason,
        )
        try:
            yield from self._activity(activities.record_run, payload.payload())
        except Exception:  # noqa: BLE001 - a second cancel, or the record failed: the report matters more
            return

    def _load_catalog(self) -> Steps:
        catalog = yield from self._activity(
            activities.load_catalog,
            LoadCatalogInput(tools=self.request.tools, offer_limit=self.request.options.max_tools_per_step).payload(),
        )
        self.catalog = Catalog.from_dict(catalog)
        self.catalog_ref = catalog.get("ref")
        self.function_json = {f["name"]: f for f in catalog["functions"]}
        self.tool_json = catalog["tools"]
        self.functions = functions_for_run(self.catalog, self.request.tools)

    def _first_tasks(self) -> Steps:
        if self.request.initial_tasks:
            known = self.events.task_ids()
            add_new_tasks(self.state, list(self.request.initial_tasks), len(self.request.initial_tasks))
            self.events.tasks_added(known)
        else:
            yield from self._create_tasks(None)
        self._status("planning")

    def _iteration(self) -> Steps:
        """Execute the top task, remember it, plan and reorder; True when the objective is met."""
        task = self.state.pending.pop(0)
        self._executing = task
        self.events.task_started(task)
        self._status("executing", task)
        yield from self._execute(task)
        self.events.task_finished(task)
        self.state.done.append(task)
        self._executing = None
        self.state.iteration += 1
        self._status("planning")
        met = yield from self._remember_and_create_tasks(task)
        if met:
            return True
        if len(self.state.pending) > 1:
            yield from self._prioritize()
        return False

    def _create_tasks(self, last: Task | None) -> Steps:
        """Ask for new tasks; True when the model judges the objective met and nothing is pending."""
        max_new = self.request.options.max_new_tasks
        answer = yield from self._model("create_tasks", lambda: create_tasks_messages(self.state, last, max_new))
        return self._add_created(answer)

    def _remember_and_create_tasks(self, task: Task) -> Steps:
        """Store the task's result in memory while the model plans: neither needs the other.

        Run side by side, the memory write costs a run no wall time; the next task's recall
        still starts only after both are done.
        """
        max_new = self.request.options.max_new_tasks

        def messages() -> list[dict[str, Any]]:
            return create_tasks_messages(self.state, task, max_new)

        store = self._call(activities.store_memory, self._memory_entry(task))
        create = self._model_call("create_tasks", messages)
        try:
            _, raw = yield from self._guarded(self.context.task_all([store, create]))
        except RunCancelled:
            raise
        except Exception as exc:
            if create.state is TaskState.FAILED:
                raise ModelStepFailed(f"create_tasks: {failure_message(exc)}") from exc
            raise
        result = store.result if isinstance(store.result, dict) else {}
        result = yield from retry_while_away(
            self, "memory", "store_memory", lambda: self._call(activities.store_memory, self._memory_entry(task)),
            result, task,
        )  # fmt: skip
        stored = MemoryStored.model_validate(result)
        self._time_activity(
            "memory",
            stored.function or "store_memory",
            stored.timing,
            ok=stored.stored,
            task_id=task.id,
            attempts=stored.attempts + int(result.get("retries") or 0),
        )
        if not stored.stored and not stored.reason:  # a reason: no memory tool is registered at all
            task.failures.append(f"its memory note was not stored: {one_line(str(stored.error), 200)}")
        again = lambda: self._model_call("create_tasks", messages)  # noqa: E731
        answer = yield from self._model_back("create_tasks", raw, again, task)
        self._count_model("create_tasks", answer, task)
        return self._add_created(answer)

    def _add_created(self, answer: StepAnswer) -> bool:
        max_new = self.request.options.max_new_tasks
        parsed = parse_json_object(answer.content)
        if parsed is None:
            self.state.events.append("task creator answer was not a JSON object; no tasks added")
            return False
        tasks = parsed.get("tasks")
        known = self.events.task_ids()
        add_new_tasks(self.state, tasks if isinstance(tasks, list) else [], max_new)
        self.events.tasks_added(known)
        return bool(parsed.get("objective_met")) and not self.state.pending

    def _prioritize(self) -> Steps:
        answer = yield from self._model("prioritize", lambda: prioritize_messages(self.state))
        parsed = parse_json_object(answer.content) or {}
        if not apply_priority(self.state, parsed.get("order")):
            self.state.events.append(
                f"prioritizer answer {one_line(str(parsed.get('order')), 120)} was not a reordering "
                "of the pending tasks; order kept"
            )

    def _memory_entry(self, task: Task) -> dict[str, Any]:
        entry = StoreMemoryInput(run_id=self.state.run_id, task_id=task.id, task=task.task, result=task.result or "")
        return entry.payload()

    def _summary(self, outcome: str, stop_reason: str) -> Steps:
        done = len(self.state.done)
        pending = len(self.state.pending)
        plain = f"{outcome}: {done} task(s) done, {pending} pending; stopped because {stop_reason}."
        if outcome in ("cancelled", "failed") or stop_reason in ("max_tokens", "max_cost", "deadline"):
            return plain  # no new model call after a cancel, a failure or a spent budget
        self._status("summarizing")
        try:
            answer = yield from self._model("summarize", lambda: summarize_messages(self.state, stop_reason))
        except (RunCancelled, ModelStepFailed):
            return plain
        return answer.content or plain

    # -- one task ------------------------------------------------------------------------------

    def _offer(self, task: Task) -> Steps:
        """The functions offered for ``task``, and their names when a selection was made."""
        limit = self.request.options.max_tools_per_step
        if self.catalog_ref is None:
            return select_for_task(self.functions, task.task, limit)
        wanted = SelectToolsInput(ref=self.catalog_ref, tools=self.request.tools, task=task.task, limit=limit)
        choice = SelectedTools.model_validate((yield from self._activity(activities.select_tools, wanted.payload())))
        self.function_json.update({f["name"]: f for f in choice.functions})
        return [ToolFunction.from_dict(f) for f in choice.functions], choice.selected

    def _execute(self, task: Task) -> Steps:
        """One task: by this run's own agent, or by the agent its network's router picks."""
        context = yield from self._task_context(task)
        if self.request.network is not None:
            from .network import execute_routed  # network builds on this module

            yield from execute_routed(self, task, context)
        else:
            yield from self._run_task(task, context)

    def _task_context(self, task: Task) -> Steps:
        """What the task's prompt recalls: the last results and the notes memory finds for it."""
        recalled: list[str] = yield from self._activity(
            activities.recall_memory, RecallMemoryInput(run_id=self.state.run_id, query=task.task).payload()
        )
        context = [f"{t.task}: {one_line(t.result, 400)}" for t in self.state.done[-5:]]
        return context + [r for r in recalled if r not in context][:5]

    def _run_task(self, task: Task, context: list[str]) -> Steps:
        """The tool-calling sub-loop for one task."""
        budgets = self.request.budgets
        agent = self.agent
        messages = execute_task_messages(
            self.state, task, context, agent.name if agent else None, agent.instructions if agent else ""
        )
        offered, selected = yield from self._offer(task)
        task.selected_tools = selected
        offered += [function for function, _ in self.builtins.values()]
        tools = [f.openai_tool() for f in offered]
        by_name = {f.name: f for f in offered}
        calls_here = 0
        for turn in range(budgets.max_tool_calls_per_task + 1):
            prefix = f"c{task.id}-{turn}-"  # the ids _run_calls gives this turn's calls
            answer = yield from self._model("execute_task", lambda: messages, tools, task, call_prefix=prefix)
            calls = answer.tool_calls
            if not calls:
                task.result = answer.content or ""
                return
            if self.state.usage.total_tokens >= budgets.max_tokens:
                task.result = "stopped: the token budget is spent"
                return
            if over_cost(self.state):
                task.result = "stopped: the cost budget is spent"
                return
            room = min(
                budgets.max_tool_calls_per_task - calls_here,
                budgets.max_tool_calls - self.state.usage.tool_calls,
            )
            if room < len(calls):
                task.result = (answer.content or "") + " [stopped: the tool-call budget is spent]"
                return
            messages.append(
                {
                    "role": "assistant",
                    "content": answer.content,
                    "tool_calls": [
                        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                        for c in calls
                    ],
                }
            )
            replies = yield from self._run_calls(task, turn, calls, by_name)
            calls_here += len(calls)
            if self.task_ended is not None:
                task.result = self.task_ended
                return
            messages.extend(
                {"role": "tool", "tool_call_id": c.id, "content": reply}
                for c, reply in zip(calls, replies, strict=True)
            )
            self._status("executing", task)
        task.result = "stopped: the task used all its tool-call turns"

    def _run_calls(self, task: Task, turn: int, calls: list[StepToolCall], by_name: dict[str, ToolFunction]) -> Steps:
        """Check, approve and run one model turn's tool calls; returns one reply per call."""
        replies: list[str | None] = [None] * len(calls)
        runnable: list[tuple[int, str, ToolFunction, dict[str, Any]]] = []
        for index, call in enumerate(calls):
            call_id = f"c{task.id}-{turn}-{index}"
            self.events.name_call(call_id, call.event_id)
            function = by_name.get(call.name)
            arguments = parse_json_object(call.arguments or "{}")
            problem = None
            if function is None:
                names = ", ".join(sorted(by_name)) or "none"
                problem = f"error: there is no function named {call.name!r}; available functions: {names}"
            elif arguments is None:
                problem = "error: the arguments were not a JSON object; send the arguments as a JSON object"
            else:
                errors = validate_arguments(function, arguments)
                if errors:
                    problem = "error: invalid arguments: " + "; ".join(errors)
            if problem is None and function is not None and arguments is not None:
                if function.name in self.builtins:
                    reply, ok = yield from self.builtins[function.name][1](self, task, call_id, arguments)
                    self.events.tool_result(call_id, reply)
                    replies[index] = reply
                    self._record(task, call_id, call.name, call.arguments, ok, None, reply)
                    continue
                if needs_approval(function, self.request.approval):
                    problem = yield from self._ask_approval(task, call_id, function, arguments)
            if problem is not None:
                self.events.tool_result(call_id, problem)
                replies[index] = problem
                self._record(task, call_id, call.name, call.arguments, False, None, problem)
                self._time_wait(
                    "tool",
                    call.name,
                    self._now_iso(),
                    task=task,
                    call_id=call_id,
                    ok=False,
                    detail="not made: " + one_line(problem, 100),
                )
            else:
                assert function is not None and arguments is not None
                runnable.append((index, call_id, function, arguments))
        if runnable:
            self.state.usage.tool_calls += len(runnable)
            outcomes = yield from self._guarded(
                self.context.task_all(
                    [
                        self._call(activities.invoke_tool, self._tool_call(call_id, function, arguments))
                        for _, call_id, function, arguments in runnable
                    ]
                )
            )
            for (index, call_id, function, arguments), outcome in zip(runnable, outcomes, strict=True):
                outcome = yield from self._tool_back(task, call_id, function, arguments, outcome)
                self._time_activity(
                    "tool",
                    function.name,
                    outcome.timing,
                    ok=outcome.ok,
                    task_id=task.id,
                    call_id=call_id,
                    attempts=outcome.attempts,
                    detail=str(outcome.status or outcome.error or "")[:120],
                )
                reply = yield from self._finish_call(task, call_id, function, arguments, outcome)
                replies[index] = reply
                if outcome.base_url:  # the tool was elsewhere than the run's catalog says
                    for record in task.tool_calls:
                        if record.call_id == call_id:
                            record.base_url = outcome.base_url
        return [r or "" for r in replies]

    def _tool_back(
        self, task: Task, call_id: str, function: ToolFunction, arguments: dict[str, Any], raw: Any
    ) -> Steps:
        """The call's outcome once its tool is back; a tool that stayed away fails the task, said to the model."""
        raw = yield from retry_while_away(
            self, "tool", function.name,
            lambda: self._call(activities.invoke_tool, self._tool_call(call_id, function, arguments)),
            raw if isinstance(raw, dict) else {}, task,
        )  # fmt: skip
        outcome = ToolCallOutcome.model_validate(raw)
        if outcome.away:
            waited = f"{outcome.away_seconds:.0f} s"
            error = f"{outcome.error or outcome.away} (still away after waiting {waited})"
            outcome = outcome.model_copy(update={"error": error})
            task.failures.append(f"{function.name}: {error}")
        return outcome

    def _tool_call(
        self, call_id: str, function: ToolFunction, arguments: dict[str, Any], **answers: Any
    ) -> dict[str, Any]:
        """The invoke_tool activity's input: the function and its tool as the run's catalog has them.

        ``answers`` are the ``input_responses`` and ``request_state`` of a call that asked for input.
        """
        built = ToolCallInput(
            run_id=self.state.run_id,
            call_id=call_id,
            function=self.function_json[function.name],
            tool=self.tool_json[function.tool],
            arguments=arguments,
            event_call_id=self.events.event_call_id(call_id),
            **answers,
        )
        return built.payload()

    def _record(
        self, task: Task, call_id: str, name: str, arguments: str, ok: bool, status: int | None, summary: str
    ) -> None:
        task.tool_calls.append(
            CallRecord(
                call_id=call_id,
                task_id=task.id,
                function=name,
                arguments=one_line(arguments, 300),
                ok=ok,
                status=status,
                summary=one_line(summary, 200),
            )
        )

    def _finish_call(
        self,
        task: Task,
        call_id: str,
        function: ToolFunction,
        arguments: dict[str, Any],
        outcome: ToolCallOutcome,
    ) -> Steps:
        if outcome.input_required:
            outcome = yield from self._answer_input(task, call_id, function, arguments, outcome)
        if outcome.task:
            outcome = yield from mcp_tasks.await_task(self, task, call_id, function, arguments, outcome)
        args_text = json.dumps(arguments, ensure_ascii=False)
        body = outcome.body
        if not outcome.ok:
            reply = f"error: {outcome.error or 'the call failed'}" + (f"\n{body}" if body else "")
            self._record(task, call_id, function.name, args_text, False, outcome.status, reply)
            return reply
        if function.wait is not None:
            reply, ok = yield from event_waiting.wait_after_call(self, task, call_id, function, arguments, outcome)
            self._record(task, call_id, function.name, args_text, ok, outcome.status, reply)
            return reply
        if function.callback is None:
            self._record(task, call_id, function.name, args_text, True, outcome.status, body)
            return body
        seconds = int(function.callback.timeout_seconds or self.request.options.callback_timeout_seconds)
        since = self._now_iso()
        shown = _without_callback_url(outcome.json_body)
        entry = {
            "call_id": call_id,
            "function": function.name,
            "kind": "callback",
            "since": since,
            "expires_at": (self.context.current_utc_datetime + timedelta(seconds=seconds)).isoformat(),
            "message": one_line(json.dumps(shown) if shown is not None else body, 300),
            "response": shown,
        }
        self.waiting.append(entry)
        self._status("waiting", task)
        self.events.callback_waiting(entry)
        ended = "cancelled"
        try:
            payload, unanswered = yield from self._wait_for_event(callback_event(call_id), seconds)
            ended = "received" if unanswered is None else "timed out"
        finally:
            self.events.callback_ended(call_id, ended)
        self.waiting.remove(entry)
        self._time_wait(
            "callback",
            function.name,
            since,
            task=task,
            call_id=call_id,
            ok=unanswered is None,
            detail="answered" if unanswered is None else unanswered,
        )
        if unanswered is not None:
            # What the call returned, as the model may see it: the signed callback URL is left out.
            made = json.dumps(shown, ensure_ascii=False) if shown is not None else body
            reply = f"error: no callback arrived: {unanswered}\nthe call's answer was: {made}"
            self._record(task, call_id, function.name, args_text, False, outcome.status, reply)
            return reply
        # The callback's payload first: it is what the model waited for. The signed callback URL
        # is a credential for this run and never goes back to the model.
        response = _without_callback_url(outcome.json_body)
        reply = json.dumps({"callback": payload, "response": response or body}, ensure_ascii=False)
        self._record(task, call_id, function.name, args_text, True, outcome.status, reply)
        return reply

    def _wait_for_person(self, task: Task, entry: dict[str, Any]) -> Steps:
        """Show ``entry`` among the calls waiting for a person and wait for the decision on it.

        Returns (decision, unanswered): the event's payload as a dict, and why the wait ended
        without an answer (None when one came).
        """
        seconds = self.request.options.approval_timeout_seconds
        entry = {
            **entry,
            "asked_at": self._now_iso(),
            "expires_at": (self.context.current_utc_datetime + timedelta(seconds=seconds)).isoformat(),
        }
        self.approvals.append(entry)
        self._status("waiting", task)
        self.events.approval_asked(entry)
        verdict = "cancelled"
        try:
            decision, unanswered = yield from self._wait_for_event(approval_event(entry["call_id"]), seconds)
            decision = decision if isinstance(decision, dict) else {}
            approved = unanswered is None and decision.get("approve") is True
            verdict = unanswered if unanswered is not None else "approved" if approved else "denied"
        finally:
            self.events.approval_decided(entry["call_id"], verdict)
        self.approvals.remove(entry)
        self._time_wait(
            "approval", entry["function"], entry["asked_at"], task=task, call_id=entry["call_id"], ok=approved,
            detail=verdict,
        )  # fmt: skip
        self._status("executing", task)
        return decision, unanswered

    def _approval_entry(self, call_id: str, function: ToolFunction, arguments: dict[str, Any]) -> dict[str, Any]:
        return {
            "call_id": call_id,
            "tool": function.tool,
            "function": function.name,
            "method": function.method,
            "path": function.path,
            "arguments": arguments,
        }

    def _ask_approval(self, task: Task, call_id: str, function: ToolFunction, arguments: dict[str, Any]) -> Steps:
        """Pause for a person's decision; None when approved, else the reason for the model."""
        entry = self._approval_entry(call_id, function, arguments)
        decision, unanswered = yield from self._wait_for_person(task, entry)
        if unanswered is not None:
            return f"error: no one approved the call to {function.name} ({unanswered}); it was not made"
        comment = str(decision.get("comment") or "").strip()
        if decision.get("approve") is True:
            self.state.events.append(f"call {call_id} to {function.name} approved")
            return None
        self.state.events.append(f"call {call_id} to {function.name} denied")
        return f"error: a person denied the call to {function.name}" + (f": {comment}" if comment else "")

    def _answer_input(
        self, task: Task, call_id: str, function: ToolFunction, arguments: dict[str, Any], outcome: ToolCallOutcome
    ) -> Steps:
        """A tool asked for input during its call (MCP elicitation): ask the run's people, send their answers.

        Each round is shown like an approval (kind ``input``, with the questions); approving answers
        them with the decision's ``input``, denying declines them. Returns the call's final outcome.
        """
        for round_number in range(1, MAX_INPUT_ROUNDS + 1):
            needed = outcome.input_required
            if needed is None:
                return outcome
            entry = self._approval_entry(f"{call_id}-input{round_number}", function, arguments)
            entry.update(kind="input", questions=needed.get("questions") or {})
            decision, unanswered = yield from self._wait_for_person(task, entry)
            if unanswered is not None:
                error = f"no one answered {function.name}'s questions ({unanswered}); the call ended"
                return ToolCallOutcome(ok=False, error=error)
            answers = decision.get("input") if isinstance(decision.get("input"), dict) else {}
            responses = {
                key: {"action": "accept", "content": answers.get(key) or {}}
                if decision.get("approve") is True
                else {"action": "decline"}
                for key in entry["questions"]
            }
            self.state.events.append(f"call {call_id} to {function.name}: input round {round_number} answered")
            payload = self._tool_call(
                call_id, function, arguments, input_responses=responses, request_state=needed.get("state")
            )
            outcome = ToolCallOutcome.model_validate((yield from self._activity(activities.invoke_tool, payload)))
            self._time_activity(
                "tool", function.name, outcome.timing, ok=outcome.ok, task_id=task.id, call_id=call_id,
                attempts=outcome.attempts, detail=f"after input round {round_number}",
            )  # fmt: skip
        if outcome.input_required:
            return ToolCallOutcome(ok=False, error=f"{function.name} kept asking for input; the call ended")
        return outcome


@bp.orchestration_trigger(context_name="context")
def agent_run(context: df.DurableOrchestrationContext) -> Steps:
    """The agent run: objective in, report out."""
    payload = context.get_input() or {}
    return (yield from AgentRun(context, payload).run())
