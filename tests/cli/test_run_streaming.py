"""The CLI prints the model's text as it is written: ``toolmesh run`` and ``show --follow`` on a real mesh.

The CLI runs as its own process against the local host over real sockets. The model is a fake
OpenAI upstream behind the gateway: one model holds its first stream half sent (so the text can be
seen while the model step still runs), another writes slowly (so connections can be cut mid-text,
through a proxy, and the CLI must resume by event id without losing or repeating a word).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cut_proxy import CutProxy
from tests.support.local_mesh import Mesh, mesh_with_fake_upstream
from tests.support.servers import REPO_ROOT
from tests.support.sse_client import read_events

MODELS = {"held": "held?chunks=8&hold_after=2", "slow": "slow?chunks=40&gap_ms=100"}
WAIT_SECONDS = 120.0


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("cli-streaming")
    with mesh_with_fake_upstream(root, MODELS, host_env={"TOOLMESH_EVENTS_KEEPALIVE": "2"}) as running:
        yield running


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


def _texts(mesh: Mesh, run_id: str) -> list[str]:
    """The run's model texts as its event stream holds them, one ``name: text`` line each."""
    reading = read_events(f"{mesh.url}/api/runs/{run_id}/events", mesh.keys["functions"])
    assert reading.closed, reading
    texts: dict[str, str] = {}
    for event in reading.events:
        data = event.data
        if data["type"] == "TEXT_MESSAGE_START":
            texts[data["messageId"]] = f"{data.get('name') or 'model'}: "
        elif data["type"] == "TEXT_MESSAGE_CONTENT":
            texts[data["messageId"]] += data["delta"]
    return list(texts.values())


def test_run_prints_the_model_text_before_the_step_completes(mesh: Mesh, tmp_path: Path) -> None:
    with CliProcess(mesh.url, mesh.keys["functions"], "run", "Describe the sky", "--task", "Describe the sky",
                    "--model", "held", "--max-iterations", "2", cwd=tmp_path) as cli:  # fmt: skip
        shown = cli.wait_for(lambda out: "fake reply" in out, "the model's first words")
        run_id = shown.split("started run ", 1)[1].split()[0]
        with mesh.api() as api:
            progress = api.get(f"/api/runs/{run_id}").json()["progress"]
        assert progress["usage"]["llm_calls"] == 0, "the model step had already completed"
        httpx.post(f"{mesh.extra[0].url}/_control/release").raise_for_status()
        code, out, err = cli.finish()
    assert code == 0, (out, err)
    assert out.count("outcome completed") == 1, out
    for text in _texts(mesh, run_id):
        assert out.count(text) == 1, (text, out)
    assert "following by polling" not in out + err


def test_show_follow_resumes_a_cut_stream_without_gaps_or_repeats(mesh: Mesh, tmp_path: Path) -> None:
    run_id = mesh.start_run({"objective": "Describe the sea", "initial_tasks": ["Describe the sea", "Describe the sky"],
                             "model": "slow", "tools": [], "budgets": {"max_iterations": 3}})  # fmt: skip
    assert mesh.host is not None
    with CutProxy(mesh.host.port) as proxy, CliProcess(proxy.url, mesh.keys["functions"], "show", run_id, "--follow",
                                                        cwd=tmp_path) as cli:  # fmt: skip
        cli.wait_for(lambda out: "fake reply" in out, "the model's first words")
        assert proxy.cut() >= 1
        # Away for a while: the reconnects are refused, then the stream comes back.
        refused_from = proxy.connections
        proxy.refuse()
        cli.wait_for(lambda _: proxy.connections >= refused_from + 2, "two refused reconnects")
        proxy.accept()
        seen = cli.output.count("fake reply")
        cli.wait_for(lambda out: out.count("fake reply") > seen, "the next model text")
        proxy.cut()
        code, out, err = cli.finish()
    resumed = [last for line, last in proxy.requests if "/events" in line and last is not None]
    assert resumed and all(int(last) > 0 for last in resumed), proxy.requests
    assert code == 0, (out, err)
    assert out.count("outcome completed") == 1, out
    texts = _texts(mesh, run_id)
    assert len(texts) >= 2
    at = [out.find(text) for text in texts]
    assert [out.count(text) for text in texts] == [1] * len(texts), (texts, out)
    assert at == sorted(at), (texts, out)
