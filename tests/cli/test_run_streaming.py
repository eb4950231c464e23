"""The CLI prints the model's text as it is written: ``toolmesh run`` and ``show --follow`` on a real mesh.

The CLI runs as its own process against the local host over real sockets. The model is a fake
OpenAI upstream behind the gateway: one model holds its first stream half sent (so the text can be
seen while the model step still runs), another writes slowly (so connections can be cut mid-text,
through a proxy, and the CLI must resume by event id without losing or repeating a word).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.cli_process import CliProcess
from tests.support.cut_proxy import CutProxy
from tests.support.local_mesh import Mesh, mesh_with_fake_upstream
from tests.support.sse_client import model_texts

MODELS = {"held": "held?chunks=8&hold_after=2", "slow": "slow?chunks=40&gap_ms=100"}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("cli-streaming")
    with mesh_with_fake_upstream(root, MODELS, host_env={"TOOLMESH_EVENTS_KEEPALIVE": "2"}) as running:
        yield running


def _texts(mesh: Mesh, run_id: str) -> list[str]:
    return model_texts(f"{mesh.url}/api/runs/{run_id}/events", mesh.keys["functions"])


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
