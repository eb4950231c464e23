"""Commands to talk to runs: ``say`` (send a message), ``messages`` (read the conversation),
``abort`` (stop a chat's turn), and ``chat`` (an interactive chat run in the terminal).
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console

from toolmesh_cli.client import ApiClient
from toolmesh_cli.context import cli_context, print_json, reporting_errors
from toolmesh_cli.errors import ConfigError
from toolmesh_cli.schemas import FINISHED_STATUSES

__all__ = ["chat_session", "conversation_lines", "register"]

_PAGE = 200


def _author(given: str | None) -> str:
    return given or getpass.getuser()


def _all_messages(client: ApiClient, run_id: str, after: int = 0) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = client.messages(run_id, after=after, limit=_PAGE)
        found += page.get("messages") or []
        if page.get("next_after") is None:
            return found
        after = int(page["next_after"])


def _line(message: dict[str, Any]) -> str:
    who = message.get("author") or "?"
    text = str(message.get("text") or "")
    if message.get("role") == "person":
        state = message.get("status")
        outcome = f" -> {message['outcome']}" if message.get("outcome") else ""
        return f"[{message.get('seq')}] {who}: {text}  ({state}{outcome})"
    label = {"question": " asks", "turn": ""}.get(str(message.get("kind")), "")
    return f"[{message.get('seq')}] {who}{label}: {text}"


def conversation_lines(client: ApiClient, run_id: str) -> list[str]:
    """The run's whole conversation, a line per message."""
    return [_line(message) for message in _all_messages(client, run_id)]


def say(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The run id.")],
    text: Annotated[str, typer.Argument(help="The message: a task, a change of plan, a question, an answer, or stop.")],
    author: Annotated[str | None, typer.Option("--as", help="Your display name (default: your user name).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Send a running run a message; it takes it at its next step or while it waits."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        if not text.strip():
            raise ConfigError("the message is empty")
        stored = client.say(run_id, author=_author(author), text=text)
        if as_json:
            print_json(stored)
        else:
            state.out.print(f"sent message {stored.get('seq')} to run {run_id}", highlight=False)


def messages(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The run id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show a run's whole conversation: people's messages (and what the run did about each) and the agent's."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        found = _all_messages(client, run_id)
        if as_json:
            print_json(found)
            return
        for message in found:
            state.out.print(_line(message), highlight=False, markup=False, soft_wrap=True)
        if not found:
            state.out.print("no messages yet", highlight=False)


def abort(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="ID", help="The chat run's id.")],
    author: Annotated[str | None, typer.Option("--as", help="Your display name (default: your user name).")] = None,
) -> None:
    """Stop generating: end the chat turn in progress (its model step and tool calls); the chat goes on."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        answer = client.abort_turn(run_id, author=_author(author))
        state.out.print(f"aborted turn {answer.get('turn')} of run {run_id}", highlight=False)


def _answer_approvals(client: ApiClient, run_id: str, view: dict[str, Any], ask: Callable[[str], bool]) -> None:
    for approval in (view.get("progress") or {}).get("approvals") or []:
        question = f"approve {approval.get('function')} {approval.get('arguments')}?"
        client.approve(run_id, str(approval["call_id"]), approve=ask(question))


def chat_session(
    client: ApiClient,
    run_id: str,
    lines: Callable[[], str | None],
    out: Console,
    ask: Callable[[str], bool],
    *,
    author: str,
    interval: float = 0.3,
) -> None:
    """Send each line as a message and print the agent's answers as they come, asking approvals inline.

    ``/abort`` stops the turn in progress, ``/quit`` leaves the chat running, ``/end`` ends it.
    """
    seen = max((int(m["seq"]) for m in _all_messages(client, run_id)), default=0)
    while True:
        line = lines()
        if line is None or line.strip() == "/quit":
            out.print(f"left chat {run_id} (it goes on; come back with: toolmesh chat --id {run_id})", highlight=False)
            return
        if line.strip() == "/end":
            client.cancel(run_id)
            out.print(f"ended chat {run_id}", highlight=False)
            return
        if line.strip() == "/abort":
            client.abort_turn(run_id, author=author)
            continue
        if not line.strip():
            continue
        sent = client.say(run_id, author=author, text=line)
        answered = False
        while not answered:
            for message in _all_messages(client, run_id, after=seen):
                seen = max(seen, int(message["seq"]))
                if message.get("role") == "agent":
                    out.print(_line(message), highlight=False, markup=False, soft_wrap=True)
                    answered = answered or message.get("kind") in ("turn", "question")
                elif message.get("id") == sent.get("id") and message.get("status") == "taken":
                    answered = answered or not str(message.get("outcome") or "").startswith("turn")
            view = client.get_run_raw(run_id)
            if view.get("status") in FINISHED_STATUSES:
                out.print(f"chat {run_id} ended ({view.get('status')})", highlight=False)
                return
            if not answered:
                _answer_approvals(client, run_id, view, ask)
                time.sleep(interval)


def chat(
    ctx: typer.Context,
    run_id: Annotated[str | None, typer.Option("--id", help="Join this chat run instead of starting one.")] = None,
    model: Annotated[str | None, typer.Option(help="Gateway model alias (default: the server's).")] = None,
    author: Annotated[str | None, typer.Option("--as", help="Your display name (default: your user name).")] = None,
    idle_ttl: Annotated[int | None, typer.Option(help="Seconds the chat may idle before it ends.")] = None,
) -> None:
    """Chat with an agent in the terminal: each line is a turn; approvals are asked inline."""
    state = cli_context(ctx)
    with reporting_errors(state.err), state.client() as client:
        if run_id is None:
            body: dict[str, Any] = {"mode": "chat"}
            if model:
                body["model"] = model
            if idle_ttl:
                body["options"] = {"idle_ttl_seconds": idle_ttl}
            run_id = client.start_run(body).id
        state.out.print(f"chat {run_id}: type a message; /abort stops a turn, /quit leaves, /end ends", highlight=False)

        def read() -> str | None:
            try:
                return input("you> ")
            except EOFError:
                return None

        chat_session(client, run_id, read, state.out, lambda q: typer.confirm(q, default=False), author=_author(author))


def register(app: typer.Typer) -> None:
    for command in (say, messages, abort, chat):
        app.command()(command)
