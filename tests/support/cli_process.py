"""The toolmesh CLI in a process of its own, its output collected as it is written."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.servers import REPO_ROOT

WAIT_SECONDS = 120.0


class CliProcess:
    """``toolmesh`` in its own process; its stdout is collected as it comes, byte by byte."""

    def __init__(self, url: str, key: str, *args: str, cwd: Path) -> None:
        env = {**os.environ, "PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{REPO_ROOT / 'orchestrator'}"}
        command = [sys.executable, "-m", "toolmesh_cli.main", "--url", url, "--key", key, *args]
        self.errors = cwd / "cli-stderr.txt"
        with self.errors.open("wb") as errors:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=env, cwd=cwd)
        self._out = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def __enter__(self) -> CliProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:
            self.process.kill()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := os.read(self.process.stdout.fileno(), 4096):
            self._out.extend(chunk)

    @property
    def output(self) -> str:
        return self._out.decode(errors="replace")

    def wait_for(self, check: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + WAIT_SECONDS
        while not check(self.output):
            assert self.process.poll() is None or check(self.output), f"the CLI exited before {what}: {self.finish()}"
            assert time.monotonic() < deadline, f"the CLI never printed {what}: {self.output!r}"
            time.sleep(0.02)
        return self.output

    def finish(self) -> tuple[int, str, str]:
        try:
            self.process.wait(timeout=WAIT_SECONDS)
        finally:
            if self.process.poll() is None:
                self.process.kill()
        self._reader.join(timeout=10)
        return self.process.returncode, self.output, self.errors.read_text(errors="replace")
