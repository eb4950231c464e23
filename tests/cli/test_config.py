"""Where the CLI takes its URL and key from: options, then environment, then the mesh's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from toolmesh_cli.config import Settings, resolve_target
from toolmesh_cli.errors import ConfigError


def _state(tmp_path: Path, key: str = "mesh-key") -> Path:
    state_dir = tmp_path / ".toolmesh"
    state_dir.mkdir()
    (state_dir / "secrets.json").write_text(json.dumps({"TOOLMESH_FUNCTIONS_KEY": key}))
    return state_dir


def test_option_wins_over_environment_and_files(tmp_path: Path) -> None:
    settings = Settings(url="http://127.0.0.1:9000", functions_key="env-key", state_dir=_state(tmp_path))
    target = resolve_target(url="http://127.0.0.1:7000/", key="opt-key", state_dir=None, settings=settings)
    assert target.url == "http://127.0.0.1:7000"
    assert target.key == "opt-key"


def test_environment_key_wins_over_the_mesh_file(tmp_path: Path) -> None:
    settings = Settings(functions_key="env-key", state_dir=_state(tmp_path))
    assert resolve_target(url=None, key=None, state_dir=None, settings=settings).key == "env-key"


def test_local_mesh_key_is_used_for_a_loopback_url(tmp_path: Path) -> None:
    settings = Settings(state_dir=_state(tmp_path))
    assert resolve_target(url=None, key=None, state_dir=None, settings=settings).key == "mesh-key"


def test_host_key_file_is_used_when_the_mesh_wrote_no_secrets(tmp_path: Path) -> None:
    state_dir = tmp_path / "s"
    (state_dir / "host").mkdir(parents=True)
    (state_dir / "host" / "functions.key").write_text("host-key\n")
    target = resolve_target(url=None, key=None, state_dir=state_dir, settings=Settings())
    assert target.key == "host-key"


def test_local_mesh_key_is_never_sent_to_a_remote_origin(tmp_path: Path) -> None:
    settings = Settings(state_dir=_state(tmp_path))
    target = resolve_target(url="https://toolmesh.example.net", key=None, state_dir=None, settings=settings)
    assert target.key is None


def test_key_is_not_shown_in_repr(tmp_path: Path) -> None:
    target = resolve_target(url=None, key="very-secret", state_dir=tmp_path, settings=Settings())
    assert "very-secret" not in repr(target)


@pytest.mark.parametrize("url", ["127.0.0.1:7071", "ftp://host", "http://"])
def test_unusable_url_is_a_config_error(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--url must be an http"):
        resolve_target(url=url, key=None, state_dir=tmp_path, settings=Settings())


def test_unreadable_secrets_file_is_a_config_error(tmp_path: Path) -> None:
    state_dir = tmp_path / "s"
    state_dir.mkdir()
    (state_dir / "secrets.json").write_text("{not json")
    with pytest.raises(ConfigError, match="secrets.json"):
        resolve_target(url=None, key=None, state_dir=state_dir, settings=Settings())
