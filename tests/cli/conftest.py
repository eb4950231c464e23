"""Fixtures for the CLI tests: the fake run API on a loopback port, and a CLI invoker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from tests.support.servers import RunningServer, start_uvicorn
from toolmesh_cli.main import app

FAKE_KEY = "cli-test-key"


@pytest.fixture(scope="module")
def fake_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("fake-api") / "fake_api.log"
    server = start_uvicorn(
        "tests.console.fake_api:app",
        log_path=log,
        env={"FAKE_API_KEY": FAKE_KEY, "FAKE_STEP_SECONDS": "0.1"},
    )
    yield server
    server.stop()


class Cli:
    """Runs ``toolmesh --url U --key K ...`` in process and returns the result."""

    def __init__(self, url: str, key: str | None, state_dir: Path) -> None:
        self.url, self.key, self.state_dir = url, key, state_dir
        self.runner = CliRunner()

    def __call__(self, *args: str) -> Result:
        base = ["--url", self.url, "--state-dir", str(self.state_dir)]
        if self.key:
            base += ["--key", self.key]
        return self.runner.invoke(app, [*base, *args], catch_exceptions=False)


@pytest.fixture
def cli(fake_api: RunningServer, tmp_path: Path) -> Cli:
    return Cli(fake_api.url, FAKE_KEY, tmp_path)
