"""The console in headless Chromium on a network run and on schedules, against the real mesh.

A ticket of the support network waits in a sub-run for the developer's answer: the page shows the
agent, why the router chose it, the sub-run tree and the event wait, and the answer is posted from
the page. Schedules are added, paused and deleted from their page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.local_mesh import Mesh
from tests.support.support_network import start_support_mesh, ticket

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = start_support_mesh(tmp_path_factory.mktemp("console-network"))
    try:
        yield running
    finally:
        running.stop()


def _open(browser: Browser, mesh: Mesh, route: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{mesh.url}/console?code={mesh.keys['functions']}#{route}")
    return page


def test_a_network_run_shows_routing_the_sub_run_tree_and_takes_an_event_from_the_page(
    browser: Browser, mesh: Mesh, artifacts: Path
) -> None:
    run_id = mesh.start_run(ticket("T-B1", "Diagnose the crash in the export"))
    page = _open(browser, mesh, f"/runs/{run_id}")
    try:
        page.wait_for_selector(".event-wait", timeout=WAIT_MS)
        tree = page.inner_text("#sub-runs-tree")
        assert "technical_support" in tree and "waits for developer.response" in tree and "T-B1" in tree
        assert "routed by rule" in page.inner_text("#tasks-table")
        assert '"ticketId":"T-B1"' in page.inner_text(".event-wait .match")
        page.screenshot(path=str(artifacts / "network-run-waiting.png"), full_page=True)
        page.click(".event-wait .send-event")  # the data is prefilled with the wait's match
        page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
        tasks = page.inner_text("#tasks-table")
        assert "technical_support" in tasks and "Got an answer" in tasks, tasks
        assert page.locator("#sub-runs").is_hidden()
        page.screenshot(path=str(artifacts / "network-run-finished.png"), full_page=True)
    finally:
        page.context.close()


def test_schedules_are_added_paused_and_deleted_from_the_page(browser: Browser, mesh: Mesh, artifacts: Path) -> None:
    page = _open(browser, mesh, "/schedules")
    try:
        page.fill("#schedule-cron", "0 0 1 1 *")
        page.fill("#schedule-objective", "New year's report")
        page.click("#schedule-form button[type=submit]")
        row = page.locator("tr.schedule", has_text="New year's report")
        row.wait_for(timeout=WAIT_MS)
        assert "active" in row.inner_text() and "0 0 1 1 *" in row.inner_text()
        row.get_by_role("button", name="Pause").click()
        page.locator("tr.schedule", has_text="paused").wait_for(timeout=WAIT_MS)
        page.screenshot(path=str(artifacts / "schedules-paused.png"), full_page=True)
        page.locator("tr.schedule", has_text="New year's report").get_by_role("button", name="Delete").click()
        page.wait_for_selector("text=No schedules yet.", timeout=WAIT_MS)
    finally:
        page.context.close()
