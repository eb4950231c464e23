"""The app's HTTP triggers: route templates, methods, auth levels, absolute URLs, errors."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.durable_host.conftest import APPS, KEY, Host, launch_host
from tests.support.servers import REPO_ROOT


def test_int_route_parameter_and_query_reach_the_function(host: Host) -> None:
    response = httpx.get(host.url + "/api/items/42", params={"q": "x"})
    assert response.status_code == 200
    assert response.json() == {"id": 42, "q": "x", "url": host.url + "/api/items/42?q=x"}


def test_int_constraint_rejects_non_numbers(host: Host) -> None:
    assert httpx.get(host.url + "/api/items/abc").status_code == 404


def test_catch_all_route_captures_the_rest(host: Host) -> None:
    assert httpx.get(host.url + "/api/files/a/b/c.txt").text == "a/b/c.txt"


def test_wrong_method_gets_404_as_from_the_functions_host(host: Host) -> None:
    """The Functions host's method constraint makes the route not match: 404, no Allow header."""
    response = httpx.post(host.url + "/api/items/1")
    assert response.status_code == 404
    assert "allow" not in response.headers
    assert httpx.get(host.url + "/api/items/1").status_code == 200


def test_function_level_route_requires_the_key(host: Host) -> None:
    assert httpx.post(host.url + "/api/orchestrators/hello_sequence").status_code == 401
    ok = httpx.post(host.url + "/api/orchestrators/hello_sequence", params={"code": KEY})
    assert ok.status_code == 202


def test_function_exception_gets_500_without_details(host: Host) -> None:
    response = httpx.get(host.url + "/api/boom")
    assert response.status_code == 500
    assert "secret detail" not in response.text


def test_unknown_path_gets_404(host: Host) -> None:
    assert httpx.get(host.url + "/api/nothing-here").status_code == 404
    assert httpx.get(host.url + "/elsewhere").status_code == 404


@pytest.fixture(scope="module")
def root_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    base = tmp_path_factory.mktemp("root-host")
    running = launch_host("rootprefix", base / "data", base / "marks", key=None)
    yield running
    running.stop()


def test_empty_route_prefix_serves_routes_at_the_root(root_host: Host) -> None:
    assert httpx.get(root_host.url + "/console").text == "<html>console</html>"
    response = httpx.post(root_host.url + "/api/runs", json={"name": "ada"})
    assert response.status_code == 202
    status_url = response.json()["statusQueryGetUri"]
    assert status_url.startswith(root_host.url + "/runtime/webhooks/durabletask/instances/")
    for _ in range(100):
        status = httpx.get(status_url)
        if status.json()["runtimeStatus"] == "Completed":
            break
    assert status.json()["output"] == "hi ada"


def test_generated_key_is_stored_privately_and_not_logged(root_host: Host) -> None:
    key_file = root_host.data_dir / "functions.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 32
    assert key not in root_host.server.log()
    assert str(key_file) in root_host.server.log()
    assert httpx.get(root_host.url + "/runtime/webhooks/durabletask/instances/").status_code == 401
    assert (
        httpx.get(
            root_host.url + "/runtime/webhooks/durabletask/instances/", headers={"x-functions-key": key}
        ).status_code
        == 200
    )


def test_entity_function_is_refused_at_startup(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as failure:
        launch_host("entity", tmp_path / "data", tmp_path / "marks")
    assert "counter_entity" in str(failure.value)
    assert "entities" in str(failure.value)


def test_local_settings_fill_environment_without_overriding(tmp_path: Path) -> None:
    app_dir = tmp_path / "app"
    shutil.copytree(APPS / "rootprefix", app_dir)
    (app_dir / "local.settings.json").write_text(
        json.dumps({"IsEncrypted": False, "Values": {"GREETING": "from-file", "TOOLMESH_PROBE": "file"}})
    )
    running = launch_host(
        "rootprefix", tmp_path / "data", tmp_path / "marks", app_dir=app_dir, env={"TOOLMESH_PROBE": "env"}
    )
    try:
        assert httpx.get(running.url + "/settings/GREETING").text == "from-file"
        assert httpx.get(running.url + "/settings/TOOLMESH_PROBE").text == "env"
    finally:
        running.stop()


def test_bad_command_line_values_exit_with_a_clear_message(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "durable_host", "--app-dir", str(APPS / "rootprefix"), "--port", "1"]
    no_dir = subprocess.run(base, capture_output=True, text=True, env=_env(), timeout=60)
    assert no_dir.returncode == 2
    assert "--data-dir" in no_dir.stderr
    zero = subprocess.run(
        [*base, "--data-dir", str(tmp_path), "--activity-concurrency", "0"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert zero.returncode == 2
    assert "at least 1" in zero.stderr
    missing = subprocess.run(
        [*base[:4], str(tmp_path / "nowhere"), "--port", "1", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
    )
    assert missing.returncode == 2
    assert "nowhere does not exist" in missing.stderr


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLMESH_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "orchestrator")])
    return env


def test_function_declaring_context_gets_an_invocation_context(root_host: Host) -> None:
    assert httpx.get(root_host.url + "/whoami").text == "whoami True"


def test_a_failing_durable_client_call_leaves_no_credential_in_the_log(root_host: Host) -> None:
    key = (root_host.data_dir / "functions.key").read_text().strip()
    response = httpx.get(root_host.url + "/client-failure/no-such-instance")
    assert response.status_code == 500
    assert "durabletask-rpc" not in response.text and key not in response.text
    log = root_host.server.log()
    assert "HTTP function client_failure failed" in log
    assert "durabletask-rpc/[redacted]/instances/no-such-instance" in log  # the failure itself is logged
    assert re.search(r"durabletask-rpc/(?!\[redacted\])", log) is None, "the RPC token is in the log"
    assert key not in log and "code=[redacted]" in log


def test_the_hosts_data_is_for_its_owner_only(root_host: Host) -> None:
    assert root_host.data_dir.stat().st_mode & 0o777 == 0o700
    files = [path for path in root_host.data_dir.iterdir() if path.is_file()]
    assert {path.name for path in files} >= {"functions.key", "durable.sqlite3"}
    assert {path.name: path.stat().st_mode & 0o777 for path in files} == {path.name: 0o600 for path in files}
