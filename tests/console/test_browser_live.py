"""The console's run page follows the run's event stream, in headless Chromium against the real local host.

The model is a fake upstream behind the gateway that holds its first answer half written, so the
pages can be seen showing text while the model step is still running.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import yaml

from tests.support.local_mesh import Mesh, start_mesh
from tests.support.servers import RunningServer, start_uvicorn

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

WAIT_MS = 90_000


def _gateway_config(root: Path, upstream: RunningServer) -> Path:
    deployment = {"provider": "openai", "base_url": f"{upstream.url}/v1", "api_key": "sk-fake",
                  "model": "held?chunks=8&hold_after=2"}  # fmt: skip
    config = root / "gateway.yaml"
    config.write_text(yaml.safe_dump({"models": {"default": {"deployments": [{"provider": "offline"}]},
                                                 "held": {"deployments": [deployment]}}}))  # fmt: skip
    return config


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("console-live")
    upstream = start_uvicorn("tests.support.fake_openai:app", log_path=root / "logs" / "upstream.log")
    try:
        running = start_mesh(root, gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(_gateway_config(root, upstream))},
                             host_env={"TOOLMESH_EVENTS_KEEPALIVE": "2"})  # fmt: skip
    except BaseException:
        upstream.stop()
        raise
    running.extra.append(upstream)
    try:
        yield running
    finally:
        running.stop()


def _open(browser: Browser, mesh: Mesh, run_id: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{mesh.url}/console?code={mesh.keys['functions']}#/runs/{run_id}")
    return page


def _ids(page: Page) -> list[int]:
    text = page.get_attribute("#live-text", "data-event-ids") or ""
    return [int(i) for i in text.split(",") if i]


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

