"""The ``toolmesh`` command run as a user runs it: a separate process, against a mesh it started itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.servers import REPO_ROOT
from toolmesh_cli.mesh import TOOL_SERVICES

AVAILABLE_TOOLS = [name for name in TOOL_SERVICES if (REPO_ROOT / "tools" / name / "main.py").is_file()]


@dataclass
class Invocation:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def toolmesh(
    state_dir: Path,
    *args: str,
    url: str | None = None,
    timeout: float = 180,
    env_extra: Mapping[str, str] | None = None,
) -> Invocation:
    """Run the installed CLI as a separate process; no key is given, so it must find the mesh's.

    ``env_extra`` is added to the CLI's environment, as a user's shell would hold it.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLMESH_")}
    env.update(env_extra or {})
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "orchestrator")])
    base = [sys.executable, "-m", "toolmesh_cli.main", "--state-dir", str(state_dir)]
    if url:
        base += ["--url", url]
    done = subprocess.run(
        [*base, *args], capture_output=True, text=True, env=env, cwd=state_dir.parent, timeout=timeout
    )
    return Invocation(done.returncode, done.stdout, done.stderr)


@dataclass
class MeshUnderTest:
    state_dir: Path
    url: str
    up: Invocation

    def __call__(self, *args: str, timeout: float = 180) -> Invocation:
        return toolmesh(self.state_dir, *args, url=self.url, timeout=timeout)
