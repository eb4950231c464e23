"""The run API's OpenAPI spec: exported without drift, served by the app, honoured by the app.

The conformance run starts the whole mesh (tools, gateway, the local durable host running the
unmodified app) and runs schemathesis against the spec the app serves: any 5xx, or any response
the spec does not describe, fails the test with schemathesis' report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_loop import run_api_spec
from tests.support.local_mesh import Mesh, start_mesh
from tests.support.schemathesis_run import run_schemathesis
from tests.support.servers import REPO_ROOT

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    running = start_mesh(tmp_path_factory.mktemp("run-api-spec"))
    yield running
    running.stop()


def test_the_app_serves_the_exported_spec(mesh: Mesh) -> None:
    with mesh.api() as api:
        served = api.get("/api/openapi.json")
    assert served.status_code == 200
    assert served.json() == json.loads(run_api_spec.SPEC_PATH.read_text(encoding="utf-8"))


def _app_routes() -> set[tuple[str, str]]:
    """Every (method, path) an HTTP function of the app takes, as the Functions host reads them."""
    import function_app

    routes = set()
    for function in function_app.app.get_functions():
        for binding in function.get_bindings():
            described = binding.get_dict_repr()
            if described.get("type") == "httpTrigger":
                for method in described.get("methods") or []:
                    routes.add((str(getattr(method, "value", method)).lower(), "/" + str(described["route"])))
    return routes


def test_the_spec_has_every_route_of_the_app_and_no_other() -> None:
    spec = json.loads(run_api_spec.SPEC_PATH.read_text(encoding="utf-8"))
    documented = {(method, path) for path, item in spec["paths"].items() for method in item}
    # MCP's endpoints speak the MCP protocol (README, "MCP"); the console is its web page.
    served = {(method, path) for method, path in _app_routes() if path.startswith("/api/") and "/mcp" not in path}
    assert documented == served


def test_the_run_api_conforms_to_its_spec(mesh: Mesh, tmp_path: Path) -> None:
    if not SCHEMATHESIS.exists():
        pytest.skip("schemathesis is not installed (pip install -e '.[dev]')")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{mesh.url}/api/openapi.json",
            "--header",
            f"x-functions-key: {mesh.keys['functions']}",
            "--checks",
            "all",
            # Schema-valid ids name runs, calls and tools that do not exist: those answer the
            # documented 404, which positive_data_acceptance would count as rejecting valid data.
            # A method no route lists is a 404 from the Functions host, never the 405
            # unsupported_method expects (docs/durable-host.md, "The app's HTTP routes").
            "--exclude-checks",
            "positive_data_acceptance,unsupported_method",
            "--max-examples",
            "10",
            "--seed",
            "20261202",
            "--generation-database",
            "none",
            "--no-color",
            "--workers",
            "1",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    log = mesh.host.log()[-3000:] if mesh.host else ""
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:] + "\nhost log:\n" + log


def test_the_run_api_gives_no_5xx_to_hostile_json(mesh: Mesh, tmp_path: Path) -> None:
    """Every generated body rewritten with NaN or Infinity, a lone surrogate, or deep nesting."""
    result = run_schemathesis(
        f"{mesh.url}/api",
        "tests.support.schemathesis_hostile",
        ["--checks", "not_a_server_error"],
        tmp_path,
        header=f"x-functions-key: {mesh.keys['functions']}",
    )
    log = mesh.host.log()[-3000:] if mesh.host else ""
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:] + "\nhost log:\n" + log
