"""The console in headless Chromium against the fake run API: every control of the page.

The fake keeps these tests fast and independent of the agent; test_browser_mesh.py runs
the same page against the real local mesh.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.console.conftest import FAKE_KEY
from tests.support.servers import RunningServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

WAIT_MS = 10_000


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def _start(api: RunningServer, objective: str) -> str:
    response = httpx.post(api.url + "/api/runs", json={"objective": objective}, headers={"x-functions-key": FAKE_KEY})
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _open(page: Page, api: RunningServer, route: str) -> None:
    page.goto(f"{api.url}/console?code={FAKE_KEY}#{route}")


def test_start_run_from_the_page_and_watch_it_finish(page: Page, fake_api: RunningServer, artifacts: Path) -> None:
    _open(page, fake_api, "/new")
    assert "code=" not in page.url, "the key must not stay in the address bar"
    page.fill("#objective-input", "collect facts then summarize")
    page.fill("#budget-max_iterations", "5")
    page.click("#start-run")
    page.wait_for_url("**/console#/runs/*", timeout=WAIT_MS)
    page.wait_for_selector("#tasks-table tr.task", timeout=WAIT_MS)
    page.screenshot(path=str(artifacts / "fake-run-progress.png"), full_page=True)
    page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
    assert page.locator("#tasks-table tr.task.done").count() == 2
    assert page.inner_text("#stop-reason") == "objective met"
    assert "notes_createNote" in page.inner_text("#calls-table")
    assert "LLM calls" in page.inner_text("#report")
    page.screenshot(path=str(artifacts / "fake-run-finished.png"), full_page=True)


def test_results_are_shown_as_text_never_as_markup(page: Page, fake_api: RunningServer) -> None:
    run_id = _start(fake_api, "write it")
    _open(page, fake_api, f"/runs/{run_id}")
    page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
    assert "<b>note saved" in page.inner_text("#tasks-table")
    assert page.locator("#tasks-table b").count() == 0


def test_empty_objective_shows_the_api_message(page: Page, fake_api: RunningServer, artifacts: Path) -> None:
    _open(page, fake_api, "/new")
    page.click("#start-run")
    error = page.wait_for_selector("#form-error:not([hidden])", timeout=WAIT_MS)
    assert error is not None
    assert "objective" in error.inner_text()
    assert "Traceback" not in page.content()
    assert "invalid" in (page.get_attribute("#objective-input", "class") or "")
    page.screenshot(path=str(artifacts / "fake-empty-objective.png"), full_page=True)


def test_budget_out_of_range_marks_the_field(page: Page, fake_api: RunningServer, artifacts: Path) -> None:
    _open(page, fake_api, "/new")
    page.fill("#objective-input", "anything")
    page.fill("#budget-max_iterations", "0")
    page.click("#start-run")
    page.wait_for_selector("#form-error:not([hidden])", timeout=WAIT_MS)
    assert "budgets.max_iterations" in page.inner_text("#form-error")
    assert "invalid" in (page.get_attribute("#budget-max_iterations", "class") or "")
    page.screenshot(path=str(artifacts / "fake-budget-out-of-range.png"), full_page=True)
    page.fill("#budget-max_iterations", "ten")
    page.click("#start-run")
    page.wait_for_selector("#start-run:enabled", timeout=WAIT_MS)
    assert "budgets.max_iterations" in page.inner_text("#form-error")
    assert page.url.endswith("#/new"), "no run may start from bad input"


def test_approval_in_one_page_disappears_from_the_other(
    browser: Browser, fake_api: RunningServer, artifacts: Path
) -> None:
    run_id = _start(fake_api, "delete the old note")
    first, second = browser.new_context(), browser.new_context()
    try:
        page_a, page_b = first.new_page(), second.new_page()
        for page in (page_a, page_b):
            _open(page, fake_api, f"/runs/{run_id}")
            page.wait_for_selector(".approval[data-call='call_1']", timeout=WAIT_MS)
        page_b.fill(".approval input[aria-label='Comment']", "half-written")
        page_a.wait_for_timeout(1500)  # polls happen meanwhile; the text typed in B must survive them
        assert page_b.input_value(".approval input[aria-label='Comment']") == "half-written"
        page_a.screenshot(path=str(artifacts / "fake-approval-asked.png"), full_page=True)
        page_a.click(".approval button.approve")
        page_a.wait_for_selector(".approval .notice", timeout=WAIT_MS)
        page_b.wait_for_selector(".approval[data-call='call_1']", state="detached", timeout=3000)
        page_b.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
        assert "ok 200" in page_b.inner_text("#calls-table")
        page_b.screenshot(path=str(artifacts / "fake-approval-seen-elsewhere.png"), full_page=True)
    finally:
        first.close()
        second.close()


def test_a_tools_question_is_answered_in_the_page(page: Page, fake_api: RunningServer, artifacts: Path) -> None:
    run_id = _start(fake_api, "archive the old project")
    _open(page, fake_api, f"/runs/{run_id}")
    page.wait_for_selector(".approval .question", timeout=WAIT_MS)
    assert "Why should it be archived?" in page.inner_text(".approval .question")
    page.fill(".approval input[aria-label='Reason']", "finished last year")
    page.screenshot(path=str(artifacts / "fake-question-asked.png"), full_page=True)
    page.click(".approval button.approve")
    page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
    assert "archived: finished last year" in page.inner_text("#calls-table")


def test_deny_button_fails_the_call(page: Page, fake_api: RunningServer) -> None:
    run_id = _start(fake_api, "delete the old note")
    _open(page, fake_api, f"/runs/{run_id}")
    page.click(".approval button.deny", timeout=WAIT_MS)
    page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
    assert "error 403" in page.inner_text("#calls-table")


def test_reply_box_answers_a_waiting_message(page: Page, fake_api: RunningServer, artifacts: Path) -> None:
    run_id = _start(fake_api, "ask bob for the date")
    _open(page, fake_api, f"/runs/{run_id}")
    page.wait_for_selector(".waiting textarea", timeout=WAIT_MS)
    page.click(".waiting button.send-reply")
    assert "Write a reply first" in page.inner_text(".waiting")
    page.fill(".waiting textarea", "Tuesday")
    page.screenshot(path=str(artifacts / "fake-reply.png"), full_page=True)
    page.click(".waiting button.send-reply")
    page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
    assert "reply: Tuesday" in page.inner_text("#tasks-table")


def test_cancel_button_stops_the_run(page: Page, fake_api: RunningServer) -> None:
    run_id = _start(fake_api, "ask bob for the date")
    _open(page, fake_api, f"/runs/{run_id}")
    page.wait_for_selector(".waiting", timeout=WAIT_MS)
    page.click("#cancel-run")
    assert page.inner_text("#cancel-run") == "Click again to cancel"
    page.click("#cancel-run")
    page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
    assert "cancelled by request" in page.inner_text("#stop-reason")
    assert page.is_hidden("#cancel-run")


def test_runs_list_updates_without_reload(page: Page, fake_api: RunningServer) -> None:
    _open(page, fake_api, "/runs")
    page.wait_for_selector("#runs-table", timeout=WAIT_MS)
    run_id = _start(fake_api, "a brand new run")
    page.wait_for_selector(f"tr[data-run='{run_id}']", timeout=WAIT_MS)
    page.click(f"tr[data-run='{run_id}'] a")
    page.wait_for_selector("#objective:text-is('a brand new run')", timeout=WAIT_MS)


def test_tool_catalog_lists_sizes_and_shows_schemas(page: Page, fake_api: RunningServer, artifacts: Path) -> None:
    _open(page, fake_api, "/tools")
    page.wait_for_selector(".tool[data-tool='notes']", timeout=WAIT_MS)
    text = page.inner_text("#tools-list")
    assert "notes_deleteNote" in text and "asks" in text
    page.screenshot(path=str(artifacts / "fake-tools.png"), full_page=True)
    page.click(".tool[data-tool='notes'] h2 a")
    page.wait_for_selector("[data-function='notes_deleteNote'] pre", timeout=WAIT_MS)
    assert '"type": "object"' in page.inner_text("[data-function='notes_deleteNote'] pre")


def test_page_asks_for_the_key_and_uses_it(page: Page, fake_api: RunningServer) -> None:
    page.goto(f"{fake_api.url}/console#/runs")
    page.wait_for_selector("#key-panel:not([hidden])", timeout=WAIT_MS)
    page.fill("#key-input", "wrong")
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#key-message:has-text('401')", timeout=WAIT_MS)
    page.fill("#key-input", FAKE_KEY)
    page.click("#key-form button[type=submit]")
    page.wait_for_selector("#runs-table", timeout=WAIT_MS)
    page.wait_for_selector("#key-panel[hidden]", state="attached", timeout=WAIT_MS)
