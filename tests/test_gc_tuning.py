"""Every server process freezes its start-up objects and raises the collector's thresholds once it has started.

Each check runs in a child process, so this test process's collector is neither read nor changed:
the child starts the service the way its server does (the app's lifespan; for the durable host,
its command line up to the server run) and reports the collector's state before and after.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT

TUNED = [50_000, 20, 10]

_REPORT = """
import gc, json, sys
from starlette.testclient import TestClient
before = [gc.get_freeze_count(), list(gc.get_threshold())]
{start}
print(json.dumps({{"before": before, "after": [gc.get_freeze_count(), list(gc.get_threshold())]}}))
"""

_SERVICE = """
from {module} import app
with TestClient(app):
    pass
"""

_HOST = """
import uvicorn
from durable_host import cli

def run(app, **_):
    with TestClient(app):
        pass

uvicorn.run = run
assert cli.main(["--app-dir", {app_dir!r}, "--data-dir", {data_dir!r}, "--functions-key", "k"]) == 0
"""


def _collector_states(start: str, tmp_path: Path) -> dict[str, list[object]]:
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'orchestrator'}",
        "HOME": str(tmp_path),
        **{f"{name}_DB": str(tmp_path / f"{name}.sqlite3") for name in ("NOTES", "ISSUES", "CALC", "MAILBOX")},
        "TOOLMESH_GATEWAY_DB": str(tmp_path / "gateway.sqlite3"),
    }
    script = _REPORT.format(start=textwrap.dedent(start))
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, list[object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.mark.parametrize(
    "module",
    ["tools.notes.main", "tools.issues.main", "tools.calc.main", "tools.mailbox.main", "llm_gateway.main"],
)
def test_a_service_tunes_its_collector_when_it_starts(module: str, tmp_path: Path) -> None:
    states = _collector_states(_SERVICE.format(module=module), tmp_path)
    assert states["before"][0] == 0 and states["before"][1] != TUNED
    frozen, thresholds = states["after"]
    assert isinstance(frozen, int) and frozen > 10_000  # the modules, classes and app, at least
    assert thresholds == TUNED


def test_the_durable_host_tunes_its_collector_when_it_starts(tmp_path: Path) -> None:
    start = _HOST.format(
        app_dir=str(REPO_ROOT / "tests" / "durable_host" / "apps" / "basic"), data_dir=str(tmp_path / "data")
    )
    states = _collector_states(start, tmp_path)
    assert states["before"][0] == 0
    frozen, thresholds = states["after"]
    assert isinstance(frozen, int) and frozen > 10_000
    assert thresholds == TUNED
