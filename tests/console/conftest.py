"""Fixtures for the console tests: the fake run API and headless Chromium through Playwright.

The browser is the system Chromium (/usr/bin/chromium); Playwright's own browser downloads
are never used. Without Chromium the browser tests skip with a message saying so.
Screenshots go to test-artifacts/console/ (git-ignored), kept as CI artefacts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.servers import REPO_ROOT, RunningServer, start_uvicorn

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FAKE_KEY = "console-test-key"
ARTIFACTS = REPO_ROOT / "test-artifacts" / "console"


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for the console tests; closed when they end, because Playwright's sync API keeps an
    event loop marked as running in this thread, which would break every async test after it."""
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def fake_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("fake-api") / "fake_api.log"
    server = start_uvicorn(
        "tests.console.fake_api:app",
        log_path=log,
        env={"FAKE_API_KEY": FAKE_KEY, "FAKE_STEP_SECONDS": "0.15"},
    )
    yield server
    server.stop()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
