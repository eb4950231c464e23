"""The run commands against the fake run API: following, steering, errors and exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.cli.conftest import FAKE_KEY, Cli
from tests.support.servers import REPO_ROOT, RunningServer, free_port


def _started_id(cli: Cli, objective: str) -> str:
    result = cli("run", objective, "--detach", "--json")
    assert result.exit_code == 0, result.output
    return str(json.loads(result.stdout)["id"])


def _wait_for(cli: Cli, run_id: str, key: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view: dict[str, Any] = json.loads(cli("show", run_id, "--json").stdout)
        if view["progress"] and view["progress"][key]:
            return view
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} never showed {key}")


def test_run_follows_to_completion_and_exits_zero(cli: Cli) -> None:
    result = cli("run", "write the plan then file the report", "--json", "--interval", "0.1")
    assert result.exit_code == 0, result.output
    final = json.loads(result.stdout)
    assert final["status"] == "Completed"
    assert final["output"]["outcome"] == "completed"
    assert [t["task"] for t in final["output"]["tasks"]] == ["write the plan", "file the report"]
    assert "task 1 done: write the plan" in result.stderr


def test_run_prints_progress_lines_and_report_when_not_a_terminal(cli: Cli) -> None:
    result = cli("run", "collect facts then summarize", "--interval", "0.1")
    assert result.exit_code == 0, result.output
    assert "started run" in result.stdout
    assert "tool call notes_createNote" in result.stdout
    assert "task 2 done: summarize" in result.stdout
    assert "outcome completed: objective met" in result.stdout


def test_run_with_out_of_range_budget_exits_two_naming_the_field(cli: Cli) -> None:
    result = cli("run", "anything", "--max-iterations", "0")
    assert result.exit_code == 2
    assert "budgets.max_iterations" in result.stderr
    assert "Traceback" not in result.output


def test_run_with_blank_objective_exits_two_naming_the_field(cli: Cli) -> None:
    result = cli("run", "   ")
    assert result.exit_code == 2
    assert "objective" in result.stderr


def test_run_with_bad_approval_option_exits_two(cli: Cli) -> None:
    result = cli("run", "anything", "--approval", "deleteNote=sometimes")
    assert result.exit_code == 2
    assert "NAME=always|never|default" in result.stderr


def test_run_stopped_by_budget_reports_stop_reason(cli: Cli) -> None:
    result = cli("run", "a then b then c", "--max-iterations", "1", "--json", "--interval", "0.1")
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)["output"]
    assert output["outcome"] == "budget_exhausted"
    assert output["stop_reason"] == "max_iterations"


def test_approve_lets_the_waiting_call_run(cli: Cli) -> None:
    run_id = _started_id(cli, "delete the old note")
    view = _wait_for(cli, run_id, "approvals")
    call_id = view["progress"]["approvals"][0]["call_id"]
    shown = cli("show", run_id)
    assert f"toolmesh approve {run_id} {call_id}" in shown.stdout.replace("\n", " ").replace("  ", " ")
    approved = cli("approve", run_id, call_id, "--comment", "fine")
    assert approved.exit_code == 0, approved.output
    assert f"approved call {call_id}" in approved.stdout
    final = cli("show", run_id, "--follow", "--json", "--interval", "0.1")
    assert final.exit_code == 0, final.output
    calls = json.loads(final.stdout)["progress"]["tool_calls"]
    assert calls[0]["ok"] is True


def test_deny_makes_the_call_fail(cli: Cli) -> None:
    run_id = _started_id(cli, "delete the old note")
    call_id = _wait_for(cli, run_id, "approvals")["progress"]["approvals"][0]["call_id"]
    assert cli("approve", run_id, call_id, "--deny").exit_code == 0
    final = json.loads(cli("show", run_id, "--follow", "--json", "--interval", "0.1").stdout)
    assert final["progress"]["tool_calls"][0]["ok"] is False


def test_approve_unknown_call_exits_two_with_the_api_message(cli: Cli) -> None:
    run_id = _started_id(cli, "delete the old note")
    _wait_for(cli, run_id, "approvals")
    result = cli("approve", run_id, "call_nope")
    assert result.exit_code == 2
    assert "not waiting for approval of call 'call_nope'" in result.stderr


def test_reply_answers_a_waiting_message(cli: Cli) -> None:
    run_id = _started_id(cli, "ask bob for the date")
    call_id = _wait_for(cli, run_id, "waiting")["progress"]["waiting"][0]["call_id"]
    assert cli("reply", run_id, call_id, "", "--from", "bob").exit_code == 2
    result = cli("reply", run_id, call_id, "Tuesday", "--from", "bob")
    assert result.exit_code == 0, result.output
    final = json.loads(cli("show", run_id, "--follow", "--json", "--interval", "0.1").stdout)
    assert "reply: Tuesday" in final["output"]["tasks"][0]["result"]


def test_cancel_ends_the_run_and_follow_exits_three(cli: Cli) -> None:
    run_id = _started_id(cli, "ask bob for the date")
    _wait_for(cli, run_id, "waiting")
    cancelled = cli("cancel", run_id)
    assert cancelled.exit_code == 0, cancelled.output
    final = cli("show", run_id, "--follow", "--interval", "0.1")
    assert final.exit_code == 3, final.output
    again = cli("cancel", run_id)
    assert again.exit_code == 2
    assert "already finished" in again.stderr


def test_show_unknown_run_exits_two(cli: Cli) -> None:
    result = cli("show", "does-not-exist")
    assert result.exit_code == 2
    assert "no run with id 'does-not-exist'" in result.stderr


def test_runs_lists_newest_first_as_json(cli: Cli) -> None:
    first = _started_id(cli, "first run")
    second = _started_id(cli, "second run")
    result = cli("runs", "--json", "--limit", "500")
    assert result.exit_code == 0
    ids = [run["id"] for run in json.loads(result.stdout)]
    assert ids.index(second) < ids.index(first)
    table = cli("runs")
    assert second in table.stdout


def test_wrong_key_exits_two_and_says_a_key_is_needed(fake_api: RunningServer, tmp_path: Path) -> None:
    result = Cli(fake_api.url, "wrong", tmp_path)("runs")
    assert result.exit_code == 2
    assert "401" in result.stderr and "function key" in result.stderr


def test_unreachable_api_exits_two(tmp_path: Path) -> None:
    result = Cli(f"http://127.0.0.1:{free_port()}", "k", tmp_path)("runs")
    assert result.exit_code == 2
    assert "cannot reach the toolmesh API" in result.stderr


def test_bad_url_exits_two(tmp_path: Path) -> None:
    result = Cli("ftp://example.org", "k", tmp_path)("runs")
    assert result.exit_code == 2
    assert "--url must be an http(s) URL" in result.stderr


def test_tools_lists_catalog_with_sizes_and_shows_one_tool(cli: Cli) -> None:
    listed = cli("tools", "--help")
    assert listed.exit_code == 0
    table = cli("tools")
    assert table.exit_code == 0, table.output
    assert "notes_deleteNote" in table.stdout and "asks" in table.stdout
    data = json.loads(cli("tools", "list", "--json").stdout)
    assert data["tools"][0]["functions"][0]["approx_tokens"] > 0
    shown = cli("tools", "show", "notes", "--json")
    assert json.loads(shown.stdout)["functions"][0]["parameters"]["type"] == "object"
    short = cli("tools", "notes", "--json")
    assert short.exit_code == 0, short.output
    assert json.loads(short.stdout) == json.loads(shown.stdout)
    missing = cli("tools", "show", "nope")
    assert missing.exit_code == 2 and "no tool named 'nope'" in missing.stderr


def test_ctrl_c_detaches_and_the_run_goes_on(fake_api: RunningServer, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'orchestrator'}"}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "toolmesh_cli.main",
            "--url",
            fake_api.url,
            "--key",
            FAKE_KEY,
            "run",
            "ask bob for the date",
            "--interval",
            "0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("started run "), first
    run_id = first.split()[-1]
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert f"toolmesh show {run_id} --follow" in err
    view = Cli(fake_api.url, FAKE_KEY, tmp_path)("show", run_id, "--json")
    assert json.loads(view.stdout)["status"] == "Running"
