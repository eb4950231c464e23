"""A chat run in two browser pages against the real mesh: what one writes, both see; either stops a turn.

The gateway's scripted model makes one turn slow (a message asking for something "slowly"), so
"Stop generating" has a turn to stop; every other message is answered by the offline model.
Screenshots go to test-artifacts/console/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import yaml

from tests.support.servers import free_port
from toolmesh_cli.mesh import Mesh, MeshPorts, start_mesh

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

WAIT_MS = 60_000
SCRIPT = {
    "model": "scripted-chat",
    "on_no_match": "offline",
    "entries": [
        {
            "match": {"step": "execute_task", "task_contains": "slowly", "tool_messages": 0},
            "respond": {"content": "this answer comes far too late", "delay_ms": 20_000},
        }
    ],
}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("console-chat")
    (root / "chat.yaml").write_text(yaml.safe_dump(SCRIPT))
    config = root / "gateway.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": {
                    "default": {"deployments": [{"provider": "offline"}]},
                    "chat": {"deployments": [{"provider": "scripted", "script": "chat.yaml"}]},
                }
            }
        )
    )
    running = start_mesh(
        root / ".toolmesh",
        ports=MeshPorts.free(host=free_port()),
        service_env={"gateway": {"TOOLMESH_GATEWAY_CONFIG": str(config)}},
    )
    try:
        yield running
    finally:
        running.stop()


def _open(browser: Browser, mesh: Mesh, run_id: str) -> Page:
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{mesh.url}/console?code={mesh.functions_key}#/runs/{run_id}")
    page.wait_for_selector("#message-form", timeout=WAIT_MS)
    return page


def _write(page: Page, author: str, text: str) -> None:
    page.fill("#message-author", author)
    page.fill("#message-text", text)
    page.click("#send-message")


def test_two_pages_share_a_chat_and_either_can_stop_a_turn(browser: Browser, mesh: Mesh, artifacts: Path) -> None:
    headers = {"x-functions-key": mesh.functions_key}
    started = httpx.post(f"{mesh.url}/api/runs", json={"mode": "chat", "model": "chat"}, headers=headers, timeout=30)
    assert started.status_code == 202, started.text
    run_id = started.json()["id"]
    first, second = _open(browser, mesh, run_id), _open(browser, mesh, run_id)
    try:
        _write(first, "Ann", "What is 2 + 3?")
        # Shown at once on the page that wrote it, before the run has taken it.
        first.wait_for_selector("#outbox .message.person, #messages .message.person", timeout=5_000)
        for page in (first, second):
            page.wait_for_selector("#messages .message.person:has-text('What is 2 + 3?')", timeout=WAIT_MS)
            page.wait_for_selector("#messages .message.agent:has-text('evaluateExpression returned')", timeout=WAIT_MS)
            page.wait_for_selector("#messages .message.person[data-status='taken']", timeout=WAIT_MS)
        first.screenshot(path=str(artifacts / "chat-first-page.png"), full_page=True)

        _write(first, "Ann", "Work it out slowly please")
        second.wait_for_selector("#stop-generating:not([hidden])", timeout=WAIT_MS)
        second.click("#stop-generating")
        for page in (first, second):
            page.wait_for_selector("#messages .message.agent:has-text('(stopped: aborted by')", timeout=10_000)
            page.wait_for_selector("#stop-generating", state="hidden", timeout=10_000)
        second.screenshot(path=str(artifacts / "chat-stopped.png"), full_page=True)
        assert "far too late" not in first.inner_text("#messages")

        _write(second, "Bo", "What is 4 * 5?")
        for page in (first, second):
            page.wait_for_selector("#messages .message.agent:has-text('\"value\":20.0')", timeout=WAIT_MS)
    finally:
        first.context.close()
        second.context.close()
    httpx.post(f"{mesh.url}/api/runs/{run_id}/cancel", headers=headers, timeout=30)
