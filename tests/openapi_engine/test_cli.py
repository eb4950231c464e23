"""`toolmesh tools convert` prints exactly what the model will see."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from openapi_engine import check_tools
from tests.openapi_engine.conftest import ECHO_SPEC
from tests.support.servers import RunningServer
from toolmesh_cli.tools_cmd import tools_app

runner = CliRunner()


def test_convert_prints_openai_tools() -> None:
    result = runner.invoke(tools_app, ["convert", str(ECHO_SPEC)])
    assert result.exit_code == 0, result.output
    tools = json.loads(result.stdout)
    assert len(tools) == 21 and check_tools(tools) == []
    assert all(t["function"]["strict"] is False for t in tools)


def test_convert_strict_reports_non_strict_functions_on_stderr() -> None:
    result = runner.invoke(tools_app, ["convert", str(ECHO_SPEC), "--strict"])
    assert result.exit_code == 0
    tools = json.loads(result.stdout)
    strict = {t["function"]["name"]: t["function"]["strict"] for t in tools}
    assert strict["updateNote"] is True and strict["pathMatrix"] is False
    assert "not strict: pathMatrix: /properties/objx: a free-form object" in result.stderr


def test_convert_reports_skipped_operations_on_stderr(tmp_path: Path) -> None:
    spec = {
        "openapi": "3.0.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/a": {"get": {"operationId": "ok", "responses": {"200": {"description": "ok"}}}},
            "/b": {"get": {"operationId": "bad", "parameters": [{"$ref": "#/nowhere"}], "responses": {}}},
        },
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    result = runner.invoke(tools_app, ["convert", str(path)])
    assert result.exit_code == 0
    assert [t["function"]["name"] for t in json.loads(result.stdout)] == ["ok"]
    assert "skipped: bad at /paths/~1b/get" in result.stderr and "no member 'nowhere'" in result.stderr


def test_convert_exits_2_when_the_spec_cannot_load(tmp_path: Path) -> None:
    result = runner.invoke(tools_app, ["convert", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "cannot load spec" in result.stderr and "file not found" in result.stderr
    assert result.stdout == ""


def test_convert_reads_a_running_service(echo_server: RunningServer) -> None:
    result = runner.invoke(tools_app, ["convert", f"{echo_server.url}/openapi.json"])
    assert result.exit_code == 0
    assert len(json.loads(result.stdout)) == 21
