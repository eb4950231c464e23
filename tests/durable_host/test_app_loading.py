"""Loading an app as the Python worker does: any variable name, both programming models, and a
clear message (never a traceback, nothing written to the data dir) when an app cannot load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from durable_host.discovery import load_app
from durable_host.errors import ConfigError, UnsupportedFeatureError
from tests.support.servers import REPO_ROOT

APP_HEADER = "import azure.durable_functions as df\nimport azure.functions as func\n"
ACTIVITY = '\n@{app}.activity_trigger(input_name="x")\ndef echo(x: str) -> str:\n    return x\n'


def _v2_app(tmp_path: Path, body: str) -> Path:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    (app_dir / "host.json").write_text('{"version": "2.0"}')
    (app_dir / "function_app.py").write_text(APP_HEADER + body)
    return app_dir


def test_the_one_function_app_is_found_whatever_its_name(tmp_path: Path) -> None:
    app_dir = _v2_app(tmp_path, "my_functions = df.DFApp()\n" + ACTIVITY.format(app="my_functions"))
    assert list(load_app(app_dir).activities) == ["echo"]


def test_an_app_script_without_a_function_app_is_refused(tmp_path: Path) -> None:
    app_dir = _v2_app(tmp_path, "bp = df.Blueprint()\n")
    with pytest.raises(ConfigError, match="defines no function app"):
        load_app(app_dir)


def test_two_function_apps_are_refused_by_name(tmp_path: Path) -> None:
    app_dir = _v2_app(tmp_path, "first = df.DFApp()\nsecond = func.FunctionApp()\n")
    with pytest.raises(ConfigError, match=r"defines 2 function apps \(first, second\)"):
        load_app(app_dir)


def test_a_missing_module_names_the_module_and_what_to_do(tmp_path: Path) -> None:
    app_dir = _v2_app(tmp_path, "import not_installed_anywhere\napp = df.DFApp()\n")
    with pytest.raises(ConfigError) as failure:
        load_app(app_dir)
    message = str(failure.value)
    assert "imports 'not_installed_anywhere', which is not installed" in message
    assert "requirements.txt" in message and "function_app.py, line 3" in message


def test_an_error_at_import_names_the_line(tmp_path: Path) -> None:
    app_dir = _v2_app(tmp_path, "app = df.DFApp()\nsettings = {}['MISSING']\n")
    with pytest.raises(ConfigError, match=r"failed while it was imported: KeyError: 'MISSING' \(at .*line 4\)"):
        load_app(app_dir)


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    app_dir = _v2_app(tmp_path, "app = df.DFApp(\n")
    with pytest.raises(ConfigError, match=r"cannot be imported: .*line 3"):
        load_app(app_dir)


def test_a_binding_the_host_does_not_provide_is_named(tmp_path: Path) -> None:
    app_dir = tmp_path / "v1"
    folder = app_dir / "resize"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("def main(x: str, image: bytes) -> str:\n    return x\n")
    bindings = [
        {"name": "x", "type": "activityTrigger", "direction": "in"},
        {"name": "image", "type": "blob", "direction": "in", "path": "images/{x}"},
    ]
    (folder / "function.json").write_text(json.dumps({"bindings": bindings}))
    with pytest.raises(UnsupportedFeatureError, match=r"'resize' .* has a 'blob' in binding \('image'\)"):
        load_app(app_dir)


def test_an_http_function_answers_through_one_http_out_binding(tmp_path: Path) -> None:
    app_dir = tmp_path / "v1"
    folder = app_dir / "hello"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("def main(req, message, copy) -> None:\n    message.set('hi')\n")
    bindings = [
        {"name": "req", "type": "httpTrigger", "direction": "in"},
        {"name": "message", "type": "http", "direction": "out"},
        {"name": "copy", "type": "http", "direction": "out"},
    ]
    (folder / "function.json").write_text(json.dumps({"bindings": bindings}))
    with pytest.raises(ConfigError, match=r"'hello' .* has 2 http out bindings \('message', 'copy'\)"):
        load_app(app_dir)


def _v1_echo(tmp_path: Path, function: str, function_json: str) -> Path:
    """A v1 app whose one function folder, ``hello``, holds ``function`` (an echo) and ``function_json``."""
    folder = tmp_path / "v1" / "hello"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(f"def {function}(x: str) -> str:\n    return x\n")
    (folder / "function.json").write_text(function_json)
    return tmp_path / "v1"


def test_a_v1_entry_point_that_does_not_exist_is_named(tmp_path: Path) -> None:
    trigger = {"name": "x", "type": "activityTrigger", "direction": "in"}
    app_dir = _v1_echo(tmp_path, "run", json.dumps({"bindings": [trigger]}))
    with pytest.raises(ConfigError, match=r"has no function main\(\) \(set 'entryPoint'"):
        load_app(app_dir)
    (app_dir / "hello" / "function.json").write_text(json.dumps({"entryPoint": "run", "bindings": [trigger]}))
    assert load_app(app_dir).activities["hello"].fn("hi") == "hi"


def test_settings_files_may_carry_comments_as_the_functions_host_allows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app_dir = _v2_app(tmp_path, "app = df.DFApp()\n" + ACTIVITY.format(app="app"))
    (app_dir / "host.json").write_text(
        "// written for func start\n"
        '{\n  "version": "2.0", /* the runtime */\n'
        '  "extensions": {"http": {"routePrefix": "v1//x"}},  // a string keeps its slashes\n'
        '  "note": "a /* not a comment */ here"\n}\n'
    )
    (app_dir / "local.settings.json").write_text(
        '{\n  // only for this machine\n  "Values": {"TOOLMESH_TEST_COMMENTED": "http://localhost:1/*x*/"}\n}\n'
    )
    monkeypatch.delenv("TOOLMESH_TEST_COMMENTED", raising=False)
    index = load_app(app_dir)
    assert index.route_prefix == "v1//x" and "echo" in index.activities
    assert os.environ.pop("TOOLMESH_TEST_COMMENTED") == "http://localhost:1/*x*/"


def test_a_mistake_in_a_commented_host_json_is_named_at_its_line(tmp_path: Path) -> None:
    app_dir = _v2_app(tmp_path, "app = df.DFApp()\n")
    (app_dir / "host.json").write_text('/* one\n   two */\n{\n  "version": "2.0"\n  "logging": {}\n}\n')
    with pytest.raises(ConfigError, match=r"host.json is not valid JSON: .*line 5 column 3"):
        load_app(app_dir)


def test_a_v1_function_json_may_carry_comments(tmp_path: Path) -> None:
    commented = '{\n  // an activity\n  "bindings": [{"name": "x", "type": "activityTrigger", "direction": "in"}]\n}\n'
    assert load_app(_v1_echo(tmp_path, "main", commented)).activities["hello"].fn("hi") == "hi"


def test_a_folder_without_an_app_says_what_it_looked_for(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no function_app.py and no <function>/function.json folders"):
        load_app(tmp_path)


def test_the_command_prints_the_message_and_leaves_the_data_dir_alone(tmp_path: Path) -> None:
    app_dir = _v2_app(tmp_path, "import not_installed_anywhere\napp = df.DFApp()\n")
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLMESH_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "orchestrator")])
    command = [sys.executable, "-m", "durable_host", "--app-dir", str(app_dir), "--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert "not_installed_anywhere" in done.stderr and "Traceback" not in done.stderr
    assert not data_dir.exists()
