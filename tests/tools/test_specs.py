"""Each tool service honours its spec (tests/test_generated_files.py checks the export).

The conformance run starts the service as a real process and runs schemathesis
against its own /openapi.json: any 5xx, or any response not described by the spec,
fails the test with schemathesis' report.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.schemathesis_run import run_schemathesis
from tests.tools.conftest import API_KEY, StartService
from tools.service_specs import SERVICES

# positive_data_acceptance assumes every schema-valid request succeeds. For calc and
# mailbox the schema cannot say which strings are valid expressions, units or allowed
# callback origins, so those answer a documented 422 with the reason; the check is off
# for them alone, while every check that looks for 5xx or spec violations stays on.
KEY_HEADER = f"X-API-Key: {API_KEY}"
EXCLUDED_CHECKS = {"calc": "positive_data_acceptance", "mailbox": "positive_data_acceptance"}


@pytest.mark.parametrize("name", SERVICES)
def test_service_conforms_to_its_spec(name: str, start_service: StartService, tmp_path: Path) -> None:
    server = start_service(name)
    checks = ["--checks", "all", *(["--exclude-checks", EXCLUDED_CHECKS[name]] if name in EXCLUDED_CHECKS else [])]
    result = run_schemathesis(server.url, "tests.tools.schemathesis_hooks", checks, tmp_path, header=KEY_HEADER)
    assert result.returncode == 0, (
        result.stdout[-6000:] + result.stderr[-2000:] + "\nserver log:\n" + server.log()[-3000:]
    )


@pytest.mark.parametrize("name", SERVICES)
def test_hostile_json_bodies_get_no_5xx(name: str, start_service: StartService, tmp_path: Path) -> None:
    """NaN and Infinity literals, lone surrogates and deep nesting in every generated body: 4xx only."""
    server = start_service(name)
    checks = ["--checks", "not_a_server_error"]
    result = run_schemathesis(server.url, "tests.support.schemathesis_hostile", checks, tmp_path, header=KEY_HEADER)
    assert result.returncode == 0, (
        result.stdout[-6000:] + result.stderr[-2000:] + "\nserver log:\n" + server.log()[-3000:]
    )
