"""Schemathesis against the gateway's own spec: no input, however odd, gets a 5xx.

Once with the bodies schemathesis generates, once with each body rewritten into a form a
lenient JSON parser takes (NaN and Infinity literals, lone surrogates, deep nesting).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.llm_gateway.conftest import GatewayFactory
from tests.support.schemathesis_run import run_schemathesis


@pytest.mark.parametrize("hooks", [None, "tests.support.schemathesis_hostile"], ids=["generated", "hostile"])
def test_the_gateway_answers_no_input_with_a_5xx(
    start_gateway: GatewayFactory, tmp_path: Path, hooks: str | None
) -> None:
    server = start_gateway({"models": {"default": {"deployments": [{"provider": "offline"}]}}})
    result = run_schemathesis(
        server.url, hooks, ["--checks", "not_a_server_error"], tmp_path, header="Authorization: Bearer any-key"
    )
    assert result.returncode == 0, (
        result.stdout[-6000:] + result.stderr[-2000:] + "\nserver log:\n" + server.log()[-3000:]
    )
