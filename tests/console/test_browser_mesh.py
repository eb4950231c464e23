"""The console in headless Chromium against the real local mesh (host, gateway, tools).

Two watchers on one run: one approves a call the real orchestrator asked for and the other
page sees the approval go away on its own next poll. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support.servers import REPO_ROOT, free_port
from toolmesh_cli.mesh import TOOL_SERVICES, Mesh, MeshPorts, start_mesh

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

RUN_WAIT_MS = 60_000


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    tools = [name for name in TOOL_SERVICES if (REPO_ROOT / "tools" / name / "main.py").is_file()]
    if "notes" not in tools or not (REPO_ROOT / "llm_gateway" / "main.py").is_file():
        pytest.skip("the mesh is incomplete in this checkout (needs tools/notes and llm_gateway)")
    state_dir = tmp_path_factory.mktemp("console-mesh") / ".toolmesh"
    running = start_mesh(state_dir, ports=MeshPorts.free(host=free_port()), tools=tools)
    try:
        page = httpx.get(running.url + "/console", timeout=10)
        assert page.status_code == 200, "the orchestrator app does not serve the console at /console"
        yield running
    finally:
        running.stop()


def _open(browser: Browser, mesh: Mesh, route: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{mesh.url}/console?code={mesh.functions_key}#{route}")
    return page


def test_start_a_run_from_the_page_and_watch_it_progress(browser: Browser, mesh: Mesh, artifacts: Path) -> None:
    page = _open(browser, mesh, "/new")
    try:
        page.wait_for_selector("#tool-checks input[value='notes']", timeout=RUN_WAIT_MS)
        page.fill("#objective-input", "Create a note titled groceries with milk and eggs")
        page.fill("#budget-max_iterations", "3")
        page.click("#start-run")
        page.wait_for_url("**/console#/runs/*", timeout=RUN_WAIT_MS)
        page.wait_for_selector("#phase", timeout=RUN_WAIT_MS)
        page.screenshot(path=str(artifacts / "mesh-run-progress.png"), full_page=True)
        page.wait_for_selector("#report:not([hidden])", timeout=RUN_WAIT_MS)
        assert page.locator("#failure").count() == 0, page.inner_text("#report")
        assert "createNote" in page.inner_text("#calls-table")
        assert page.locator("#tasks-table tr.task.done").count() >= 1
        assert page.inner_text("#stop-reason")
        page.screenshot(path=str(artifacts / "mesh-run-finished.png"), full_page=True)
    finally:
        page.context.close()


def test_bad_input_shows_the_real_api_message(browser: Browser, mesh: Mesh, artifacts: Path) -> None:
    page = _open(browser, mesh, "/new")
    try:
        page.click("#start-run")
        page.wait_for_selector("#form-error:not([hidden])", timeout=RUN_WAIT_MS)
        assert "objective" in page.inner_text("#form-error")
        page.fill("#objective-input", "anything")
        page.fill("#budget-deadline_seconds", "5")
        page.click("#start-run")
        page.wait_for_selector("#form-error:has-text('budgets.deadline_seconds')", timeout=RUN_WAIT_MS)
        assert "invalid" in (page.get_attribute("#budget-deadline_seconds", "class") or "")
        assert "Traceback" not in page.content()
        page.screenshot(path=str(artifacts / "mesh-bad-budget.png"), full_page=True)
    finally:
        page.context.close()


def test_approval_in_one_page_disappears_from_the_other(browser: Browser, mesh: Mesh, artifacts: Path) -> None:
    started = httpx.post(
        mesh.url + "/api/runs",
        json={"objective": "Delete note 1", "budgets": {"max_iterations": 2}},
        headers={"x-functions-key": mesh.functions_key},
        timeout=30,
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    page_a = _open(browser, mesh, f"/runs/{run_id}")
    page_b = _open(browser, mesh, f"/runs/{run_id}")
    try:
        for page in (page_a, page_b):
            page.wait_for_selector(".approval button.approve", timeout=RUN_WAIT_MS)
        assert "deleteNote" in page_b.inner_text(".item.approval")
        page_b.screenshot(path=str(artifacts / "mesh-approval-asked.png"), full_page=True)
        page_a.click(".approval button.approve")
        page_b.wait_for_selector(".item.approval", state="detached", timeout=5000)
        page_a.wait_for_selector(".item.approval", state="detached", timeout=5000)
        page_b.wait_for_selector("#report:not([hidden])", timeout=RUN_WAIT_MS)
        assert "deleteNote" in page_b.inner_text("#calls-table")
        page_b.screenshot(path=str(artifacts / "mesh-approval-seen-elsewhere.png"), full_page=True)
    finally:
        page_a.context.close()
        page_b.context.close()


def test_reply_box_answers_a_message_the_run_waits_on(browser: Browser, mesh: Mesh, artifacts: Path) -> None:
    started = httpx.post(
        mesh.url + "/api/runs",
        json={
            "objective": "Send a message to bob@example.com asking whether Friday works for the review",
            "budgets": {"max_iterations": 2},
            "tools": ["mailbox"],
        },
        headers={"x-functions-key": mesh.functions_key},
        timeout=30,
    )
    assert started.status_code == 202, started.text
    page = _open(browser, mesh, f"/runs/{started.json()['id']}")
    try:
        page.wait_for_selector(".waiting textarea", timeout=RUN_WAIT_MS)
        assert "bob@example.com" in page.inner_text(".waiting")
        page.fill(".waiting textarea", "Friday at 10 works for me")
        page.fill(".waiting input[aria-label='From']", "bob@example.com")
        page.screenshot(path=str(artifacts / "mesh-reply.png"), full_page=True)
        page.click(".waiting button.send-reply")
        page.wait_for_selector(".waiting", state="detached", timeout=RUN_WAIT_MS)
        page.wait_for_selector("#report:not([hidden])", timeout=RUN_WAIT_MS)
        final = httpx.get(
            f"{mesh.url}/api/runs/{started.json()['id']}", headers={"x-functions-key": mesh.functions_key}
        ).json()
        assert "Friday at 10 works for me" in str(final["output"]["tasks"][0]["result"])
    finally:
        page.context.close()


def test_a_finished_runs_timeline_shows_every_model_step_and_tool_call(
    browser: Browser, mesh: Mesh, artifacts: Path
) -> None:
    headers = {"x-functions-key": mesh.functions_key}
    started = httpx.post(
        mesh.url + "/api/runs",
        json={
            "objective": "Calculate 12 * 49.90 for the licence budget. Write a note with the licence budget "
            "result. File an issue to order the 12 licences.",
        },
        headers=headers,
        timeout=30,
    )
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    page = _open(browser, mesh, f"/runs/{run_id}")
    try:
        page.wait_for_selector("#waterfall .wf-row", timeout=RUN_WAIT_MS)
        report = httpx.get(f"{mesh.url}/api/runs/{run_id}", headers=headers, timeout=30).json()["output"]
        rows = page.eval_on_selector_all(
            "#waterfall .wf-row",
            "rows => rows.map(r => ({kind: r.dataset.kind, name: r.dataset.name, task: r.dataset.task}))",
        )
        assert sum(r["kind"] == "model" for r in rows) == report["usage"]["llm_calls"], rows
        on_page = Counter((r["name"], r["task"]) for r in rows if r["kind"] == "tool")
        in_report = Counter((c["function"], str(t["id"])) for t in report["tasks"] for c in t["tool_calls"])
        assert in_report and on_page == in_report, (on_page, in_report)
        assert "model steps" in page.inner_text("#timeline-metrics")
        assert page.inner_text("#trace-id") == report["trace_id"]
        page.screenshot(path=str(artifacts / "mesh-run-timeline.png"), full_page=True)
    finally:
        page.context.close()
