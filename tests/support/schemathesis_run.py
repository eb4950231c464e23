"""Run the schemathesis command line against a running service, as the spec conformance tests do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def run_schemathesis(
    base_url: str, hooks: str | None, checks: list[str], cwd: Path, *, header: str
) -> subprocess.CompletedProcess[str]:
    """A seeded schemathesis run against ``base_url``/openapi.json, with the ``hooks`` module when given."""
    if not SCHEMATHESIS.exists():
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    if hooks is not None:
        env["SCHEMATHESIS_HOOKS"] = hooks
    return subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{base_url}/openapi.json",
            *checks,
            "--header",
            header,
            "--max-examples",
            "10",
            "--seed",
            "20261120",
            "--generation-database",
            "none",
            "--no-color",
            "--workers",
            "1",
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
