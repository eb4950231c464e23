"""The console's run page follows the run's event stream, in headless Chromium against the real local host.

The model is a fake upstream behind the gateway that holds its first answer half written (so the
pages can be seen showing text while the model step is still running), or writes slowly (so a
page's connection can be cut and restored, through a proxy, while the model writes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.support.cut_proxy import CutProxy
from tests.support.local_mesh import FINISHED, Mesh, mesh_with_fake_upstream
from tests.support.sse_client import read_events

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

WAIT_MS = 90_000


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("console-live")
    models = {"held": "held?chunks=8&hold_after=2", "slow": "slow?chunks=40&gap_ms=100"}
    with mesh_with_fake_upstream(root, models, host_env={"TOOLMESH_EVENTS_KEEPALIVE": "2"}) as running:
        yield running


def _open(browser: Browser, mesh: Mesh, run_id: str, *, via: str | None = None) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{via or mesh.url}/console?code={mesh.keys['functions']}#/runs/{run_id}")
    return page


def _ids(page: Page) -> list[int]:
    text = page.get_attribute("#live-text", "data-event-ids") or ""
    return [int(i) for i in text.split(",") if i]


def _wait_until(page: Page, check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while not check():
        assert time.monotonic() < deadline, f"in time: {what}"
        page.wait_for_timeout(50)  # lets the page's events in while waiting


def test_two_pages_show_streamed_text_before_the_step_completes(browser: Browser, mesh: Mesh, artifacts: Path) -> None:
    run_id = mesh.start_run({"objective": "Describe the sky", "initial_tasks": ["Describe the sky"], "tools": [],
                             "model": "held"})  # fmt: skip
    pages = [_open(browser, mesh, run_id), _open(browser, mesh, run_id)]
    try:
        for page in pages:
            page.wait_for_selector("#live-text pre.live-message:has-text('fake reply')", timeout=WAIT_MS)
        with mesh.api() as api:
            assert api.get(f"/api/runs/{run_id}").json()["progress"]["usage"]["llm_calls"] == 0  # still running
        pages[0].screenshot(path=str(artifacts / "live-text-while-writing.png"), full_page=True)
        httpx.post(f"{mesh.extra[0].url}/_control/release")
        for page in pages:
            page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
        assert _ids(pages[0]) == _ids(pages[1]) == list(range(1, len(_ids(pages[0])) + 1))
    finally:
        for page in pages:
            page.context.close()


def test_an_approval_made_in_one_page_leaves_the_other_at_once(browser: Browser, mesh: Mesh) -> None:
    run_id = mesh.start_run({"objective": "Write a note with the licence budget result.",
                             "approval": {"createNote": "always"}, "budgets": {"max_iterations": 3}})  # fmt: skip
    first, second = _open(browser, mesh, run_id), _open(browser, mesh, run_id)
    try:
        for page in (first, second):
            page.wait_for_selector("#approvals .approval", timeout=WAIT_MS)
        first.locator("#approvals .approval button.approve").first.click()
        started = time.monotonic()
        second.wait_for_selector("#approvals .approval", state="detached", timeout=WAIT_MS)
        assert time.monotonic() - started < 1.0
    finally:
        first.context.close()
        second.context.close()


SLOW_RUN = {"objective": "Describe the sea", "initial_tasks": ["Describe the sea", "Describe the sky"], "tools": [],
            "model": "slow", "budgets": {"max_iterations": 3}}  # fmt: skip
"""A run whose model writes slowly: its connections can be cut while text is coming."""


def test_a_page_shows_the_report_when_the_status_says_finished_after_the_closing_event(
    browser: Browser, mesh: Mesh
) -> None:
    """The closing event leaves as the run's last step ends; on a busy host its status follows later.

    The run's model step is held until the page has seen it running; then the page's views of the
    run are answered with the last running view for 1.5 s after the run has really finished: the
    page must keep asking until the view is final, not stop at the event.
    """
    upstream = mesh.extra[0].url
    httpx.post(f"{upstream}/_control/reset").raise_for_status()  # "held" holds again
    run_id = mesh.start_run({"objective": "Describe the sea", "initial_tasks": ["Describe the sea"], "tools": [],
                             "budgets": {"max_iterations": 1}, "model": "held"})  # fmt: skip
    lag: dict[str, Any] = {"finished_at": None, "running": None, "stale": 0}

    def lagging(route: Route) -> None:
        answer = route.fetch()
        if answer.json().get("status") not in FINISHED:
            lag["running"] = answer.body()
            route.fulfill(response=answer)
            return
        lag["finished_at"] = lag["finished_at"] or time.monotonic()
        if lag["running"] is not None and time.monotonic() - lag["finished_at"] < 1.5:
            lag["stale"] += 1
            route.fulfill(response=answer, body=lag["running"])
        else:
            route.fulfill(response=answer)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route(lambda url: url.split("?")[0].endswith(f"/api/runs/{run_id}"), lagging)
    page = context.new_page()
    try:
        page.goto(f"{mesh.url}/console?code={mesh.keys['functions']}#/runs/{run_id}")
        page.wait_for_selector("#live-text pre.live-message:has-text('fake reply')", timeout=WAIT_MS)
        assert lag["running"] is not None  # the page has seen the run going
        httpx.post(f"{upstream}/_control/release").raise_for_status()
        page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
        assert lag["stale"] >= 1, "no view of the finished run was answered late: the test checked nothing"
    finally:
        context.close()


def _assert_every_kept_event_shown_once(mesh: Mesh, run_id: str, ids: list[int]) -> None:
    kept = read_events(f"{mesh.url}/api/runs/{run_id}/events", mesh.keys["functions"])
    assert kept.closed
    assert ids == [event.id for event in kept.events if event.id is not None]


def test_a_page_whose_connection_is_cut_and_restored_shows_every_event_once(browser: Browser, mesh: Mesh) -> None:
    run_id = mesh.start_run(SLOW_RUN)
    assert mesh.host is not None
    with CutProxy(mesh.host.port) as proxy:
        page = _open(browser, mesh, run_id, via=proxy.url)
        try:
            page.wait_for_selector("#live-text pre.live-message:has-text('fake reply')", timeout=WAIT_MS)
            # The network goes away mid-text (open connections reset, new ones refused) and comes back.
            refused_from = proxy.connections
            proxy.refuse()
            _wait_until(page, lambda: proxy.connections >= refused_from + 3, "the page tries to reconnect")
            seen = len(_ids(page))
            proxy.accept()
            _wait_until(page, lambda: len(_ids(page)) > seen, "events come again")
            # Then the app behind a proxy restarts: the stream is answered 503 a few times, which
            # EventSource does not retry by itself.
            answered: list[str] = []

            def restarting(route: Route) -> None:
                answered.append(route.request.url)
                route.fulfill(status=503, body="the app is restarting")

            page.route("**/api/runs/*/events?*", restarting)
            proxy.cut()
            _wait_until(page, lambda: len(answered) >= 4, "the page asks for its stream again and again")
            seen = len(_ids(page))
            page.unroute("**/api/runs/*/events?*")
            _wait_until(page, lambda: len(_ids(page)) > seen, "events come again")
            proxy.cut()  # and once more, a plain drop while the stream flows
            page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
            ids = _ids(page)
        finally:
            page.context.close()
    _assert_every_kept_event_shown_once(mesh, run_id, ids)


def test_a_page_watching_while_the_host_is_killed_and_restarted_shows_every_event_once(
    browser: Browser, mesh: Mesh
) -> None:
    run_id = mesh.start_run(SLOW_RUN)
    page = _open(browser, mesh, run_id)
    try:
        page.wait_for_selector("#live-text pre.live-message:has-text('fake reply')", timeout=WAIT_MS)
        assert mesh.host is not None
        mesh.host.kill()
        mesh.start_host()
        page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
        ids = _ids(page)
    finally:
        page.context.close()
    _assert_every_kept_event_shown_once(mesh, run_id, ids)


@pytest.fixture(scope="module")
def window_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """The app as Azure runs it without HTTP streams: each events request is one bounded answer."""
    root = tmp_path_factory.mktemp("console-live-window")
    env = {"TOOLMESH_EVENTS_HTTP_STREAMS": "false", "TOOLMESH_EVENTS_WINDOW": "3"}
    with mesh_with_fake_upstream(root, {"held": "held?chunks=8&hold_after=2"}, host_env=env) as running:
        yield running


def test_a_page_follows_a_run_one_bounded_answer_at_a_time(browser: Browser, window_mesh: Mesh) -> None:
    mesh = window_mesh
    run_id = mesh.start_run({"objective": "Describe the sky", "initial_tasks": ["Describe the sky"], "tools": [],
                             "model": "held", "budgets": {"max_iterations": 2}})  # fmt: skip
    page = _open(browser, mesh, run_id)
    try:
        page.wait_for_selector("#live-text pre.live-message:has-text('fake reply')", timeout=WAIT_MS)
        with mesh.api() as api:
            assert api.get(f"/api/runs/{run_id}").json()["progress"]["usage"]["llm_calls"] == 0  # still writing
        httpx.post(f"{mesh.extra[0].url}/_control/release")
        page.wait_for_selector("#report:not([hidden])", timeout=WAIT_MS)
        ids = _ids(page)
    finally:
        page.context.close()
    _assert_every_kept_event_shown_once(mesh, run_id, ids)
