"""A run's cost comes from the gateway's prices, adds up to the gateway's usage log, and can stop the run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.local_mesh import Mesh, start_mesh
from toolmesh_cli.main import app

OBJECTIVE = (
    "Calculate 12 * 49.90 for the licence budget. "
    "Write a note with the licence budget result. "
    "File an issue to order the 12 licences."
)
# Dear enough that a run costs dollars, so cents are a fine check.
PRICED = """
models:
  default:
    deployments:
      - {provider: offline, name: priced-offline, price: {input_per_million: 1000, output_per_million: 3000}}
"""


@pytest.fixture(scope="module")
def priced_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    root = tmp_path_factory.mktemp("priced")
    config = root / "gateway.yaml"
    config.write_text(PRICED)
    running = start_mesh(root, gateway_env={"TOOLMESH_GATEWAY_CONFIG": str(config)})
    try:
        yield running
    finally:
        running.stop()


def _gateway_usage(mesh: Mesh, run_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{mesh.services['gateway'].url}/v1/usage",
        params={"run_id": run_id, "limit": 1000},
        headers={"Authorization": f"Bearer {mesh.keys['gateway']}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    totals: dict[str, Any] = response.json()["totals"]
    return totals


def test_the_reports_cost_matches_the_gateways_usage_log(priced_mesh: Mesh) -> None:
    run_id = priced_mesh.start_run({"objective": OBJECTIVE})
    view = priced_mesh.wait(run_id)
    assert view["status"] == "Completed", view
    report = view["output"]
    logged = _gateway_usage(priced_mesh, run_id)
    assert logged["requests"] == report["usage"]["llm_calls"]
    assert logged["cost_usd"] > 1.0  # priced as above: dollars, not fractions of a cent
    assert round(report["usage"]["cost_usd"], 2) == round(logged["cost_usd"], 2)
    assert abs(report["usage"]["cost_usd"] - logged["cost_usd"]) < 1e-6
    # The status, the run list and the timeline's model steps say the same.
    assert view["cost_usd"] == pytest.approx(report["usage"]["cost_usd"], abs=1e-6)
    with priced_mesh.api() as api:
        listed = {r["id"]: r for r in api.get("/api/runs").json()}
        timeline = api.get(f"/api/runs/{run_id}/timeline").json()
    assert listed[run_id]["cost_usd"] == pytest.approx(logged["cost_usd"], abs=1e-6)
    steps = [e for e in timeline["entries"] if e["kind"] == "model"]
    assert len(steps) == report["usage"]["llm_calls"]
    assert sum(e["cost_usd"] for e in steps) == pytest.approx(logged["cost_usd"], abs=1e-6)


def test_max_cost_stops_the_run_like_any_budget(priced_mesh: Mesh) -> None:
    run_id = priced_mesh.start_run({"objective": OBJECTIVE, "budgets": {"max_cost": 1.5, "max_iterations": 20}})
    view = priced_mesh.wait(run_id)
    assert view["status"] == "Completed", view
    report = view["output"]
    assert report["outcome"] == "budget_exhausted", report
    assert report["stop_reason"] == "max_cost"
    assert report["usage"]["cost_usd"] >= 1.5
    assert len(report["tasks"]) < 3  # stopped before the objective's three tasks were done
    logged = _gateway_usage(priced_mesh, run_id)
    assert round(report["usage"]["cost_usd"], 2) == round(logged["cost_usd"], 2)


def test_a_bad_max_cost_is_a_400_naming_it(priced_mesh: Mesh) -> None:
    with priced_mesh.api() as api:
        response = api.post("/api/runs", json={"objective": "x", "budgets": {"max_cost": -1}})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "budgets.max_cost"


def test_the_cli_shows_cost_and_the_timeline(priced_mesh: Mesh, tmp_path: Path) -> None:
    run_id = priced_mesh.start_run({"objective": OBJECTIVE})
    report = priced_mesh.wait(run_id)["output"]
    base = ["--url", priced_mesh.url, "--key", priced_mesh.keys["functions"], "--state-dir", str(tmp_path)]
    runner = CliRunner()
    listed = runner.invoke(app, [*base, "runs", "--json"], catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    costs = {r["id"]: r["cost_usd"] for r in json.loads(listed.output)}
    assert costs[run_id] == pytest.approx(report["usage"]["cost_usd"], abs=1e-6)
    shown = runner.invoke(app, [*base, "show", run_id, "--timeline"], catch_exceptions=False, env={"COLUMNS": "220"})
    assert shown.exit_code == 0, shown.output
    rows = [line for line in shown.output.splitlines() if line.startswith("│ +")]
    assert sum(" model " in row for row in rows) == report["usage"]["llm_calls"]
    for call in (c for t in report["tasks"] for c in t["tool_calls"]):
        assert any(f" {call['function']} " in row for row in rows), (call, shown.output)
    assert f"cost ${report['usage']['cost_usd']:.4f}" in shown.output
    assert report["trace_id"] in shown.output
