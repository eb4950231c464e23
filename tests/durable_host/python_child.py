"""Running a short Python script in a fresh interpreter with the project's import roots.

For checks that need a process the test process cannot stand in for: one where the SDK
speedups were never installed, or one whose local time zone can be changed freely.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_python(script: str, stdin: str, *args: str) -> str:
    """Run ``script`` with ``args``, feeding it ``stdin``; returns its standard output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "orchestrator")])}
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"child Python failed ({result.returncode}):\n{result.stderr}")
    return result.stdout
