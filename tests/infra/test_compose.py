"""The compose file runs the whole mesh: every service, wired to each other, secrets required.

No Docker engine runs here, so these tests check what the engine would be given. When the
compose CLI is installed (``docker compose`` or ``docker-compose``), ``config`` validates the
file against the compose schema too; it needs no engine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests.infra.mesh import (
    COMPOSE_FILE,
    CONTAINER_PORT,
    GATEWAY,
    INFRA,
    ORCHESTRATOR,
    Service,
    all_service_names,
    compose_environment,
    compose_variables,
    container_services,
    load_compose,
    registry_settings,
    settings_env_names,
    tool_names,
)
from tests.support.servers import REPO_ROOT

# Settings the Functions host itself reads; the app's Settings class does not declare them.
FUNCTIONS_HOST_SETTINGS = {"AzureWebJobsStorage", "AzureWebJobsSecretStorageType"}


def new_env(tmp_path: Path, *args: str) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Run new-env.sh on a copy of infra/ so the real infra/.env is never touched."""
    infra = tmp_path / "infra"
    infra.mkdir(exist_ok=True)
    shutil.copy(INFRA / "new-env.sh", infra / "new-env.sh")
    shutil.copy(COMPOSE_FILE, infra / "compose.yaml")
    result = subprocess.run(
        ["sh", str(infra / "new-env.sh"), *args], capture_output=True, text=True, timeout=30, check=False
    )
    return infra, result


def read_env_file(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_compose_names_every_service_of_the_mesh() -> None:
    services = set(load_compose()["services"])
    missing = set(all_service_names()) - services
    assert not missing, f"{COMPOSE_FILE} lacks services {sorted(missing)}"
    assert "azurite" in services, "the orchestrator needs Azurite for AzureWebJobsStorage"


def dockerfiles_by_service() -> dict[str, Path]:
    files = {s.name: s.dockerfile for s in container_services()}
    return {ORCHESTRATOR: REPO_ROOT / "orchestrator" / "Dockerfile", **files}


@pytest.mark.parametrize("name", list(dockerfiles_by_service()))
def test_compose_builds_the_service_from_its_own_dockerfile(name: str) -> None:
    dockerfile_path = dockerfiles_by_service()[name]
    build = load_compose()["services"][name].get("build")
    assert isinstance(build, dict), f"service {name} is not built from a Dockerfile"
    context = (COMPOSE_FILE.parent / build["context"]).resolve()
    assert context == REPO_ROOT, f"service {name} must build with the repository root as context"
    assert (context / build["dockerfile"]).resolve() == dockerfile_path, f"service {name}: wrong Dockerfile"
    relative = dockerfile_path.relative_to(REPO_ROOT)
    assert dockerfile_path.is_file(), f"service {name}: {relative} is missing"


def test_compose_orchestrator_reaches_each_service_by_its_compose_name() -> None:
    env = compose_environment(ORCHESTRATOR)
    targets = {f"{name.upper()}_URL": name for name in tool_names()} | {"LLM_GATEWAY_URL": GATEWAY}
    for variable, service in targets.items():
        assert variable in env, f"orchestrator lacks {variable}"
        url = urlsplit(env[variable] or "")
        assert (url.hostname, url.port) == (service, CONTAINER_PORT), f"{variable}={env[variable]}"


def test_compose_tool_and_orchestrator_share_each_api_key() -> None:
    orchestrator = compose_environment(ORCHESTRATOR)
    for name in tool_names():
        key = f"{name.upper()}_API_KEY"
        tool_value = compose_environment(name).get(key)
        assert tool_value, f"{name} has no {key}: it would refuse every call"
        assert tool_value == orchestrator.get(key), f"{key} differs between {name} and the orchestrator"
    gateway_keys = compose_environment(GATEWAY).get("TOOLMESH_GATEWAY_API_KEYS")
    assert gateway_keys == orchestrator.get("TOOLMESH_GATEWAY_KEY"), "the orchestrator's gateway key differs"


def test_compose_secrets_are_required_never_defaulted() -> None:
    operators = compose_variables(COMPOSE_FILE.read_text())
    secrets = {name for name in operators if name.endswith(("_KEY", "_SECRET")) and name != "OPENAI_API_KEY"}
    assert secrets, "no secrets found in the compose file"
    defaulted = {name for name in secrets if operators[name] != ":?"}
    assert not defaulted, f"secrets with a default or no check: {sorted(defaulted)}"


@pytest.mark.parametrize("service", container_services(), ids=[s.name for s in container_services()])
def test_compose_environment_names_are_read_by_the_service(service: Service) -> None:
    read = settings_env_names(service.settings_module)
    unknown = set(compose_environment(service.name)) - read
    assert not unknown, f"{service.name} sets {sorted(unknown)}, which {service.settings_module} never reads"


def test_compose_environment_names_are_read_by_the_orchestrator() -> None:
    read = settings_env_names("agent_loop.settings") | FUNCTIONS_HOST_SETTINGS
    registry = set().union(*(registry_settings(n) for n in tool_names()))
    unknown = set(compose_environment(ORCHESTRATOR)) - read - registry
    assert not unknown, f"orchestrator sets {sorted(unknown)}, which neither its settings nor the registry read"


def test_compose_orchestrator_sets_everything_the_registry_reads() -> None:
    env = compose_environment(ORCHESTRATOR)
    for tool in tool_names():
        missing = registry_settings(tool) - set(env)
        assert not missing, f"the registry entry of {tool} reads {sorted(missing)}, unset for the orchestrator"


def test_compose_tool_databases_live_on_volumes() -> None:
    compose = load_compose()
    for service in container_services():
        env = compose_environment(service.name)
        for name, value in env.items():
            if not name.endswith("_DB"):
                continue
            mounts = [str(v).split(":")[1] for v in compose["services"][service.name].get("volumes", [])]
            assert value and any(value.startswith(m.rstrip("/") + "/") for m in mounts), (
                f"{service.name}: {name}={value} is not on a volume, so it is lost with the container"
            )
            volume = str(compose["services"][service.name]["volumes"][0]).split(":")[0]
            assert volume in (compose.get("volumes") or {}), f"volume {volume} is not declared"


def test_compose_host_ports_listen_on_loopback_only() -> None:
    for name, service in load_compose()["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this machine"


def test_compose_every_service_has_a_healthcheck_used_by_the_orchestrator() -> None:
    compose = load_compose()["services"]
    depends = compose[ORCHESTRATOR]["depends_on"]
    for service in container_services():
        assert "healthcheck" in compose[service.name], f"{service.name} has no healthcheck"
        assert depends.get(service.name, {}).get("condition") == "service_healthy", (
            f"the orchestrator does not wait for {service.name} to be healthy"
        )


def test_new_env_writes_every_secret_compose_requires(tmp_path: Path) -> None:
    infra, result = new_env(tmp_path)
    assert result.returncode == 0, result.stderr
    required = {n for n, op in compose_variables(COMPOSE_FILE.read_text()).items() if op == ":?"}
    written = read_env_file(infra / ".env")
    assert required <= set(written), f"new-env.sh does not write {sorted(required - set(written))}"
    assert len(set(written.values())) == len(written), "two secrets share a value"
    assert all(len(v) == 64 for v in written.values())
    assert (infra / ".env").stat().st_mode & 0o077 == 0, ".env is readable by others"
    keys = (infra / ".secrets" / "functions" / "host.json").read_text()
    assert written["TOOLMESH_FUNCTIONS_KEY"] in keys and written["TOOLMESH_MASTER_KEY"] in keys


def test_new_env_keeps_existing_keys_unless_forced(tmp_path: Path) -> None:
    infra, _ = new_env(tmp_path)
    first = read_env_file(infra / ".env")
    _, again = new_env(tmp_path)
    assert again.returncode == 0 and "0 secret(s) added" in again.stdout
    assert read_env_file(infra / ".env") == first
    _, forced = new_env(tmp_path, "--force")
    assert forced.returncode == 0
    assert read_env_file(infra / ".env")["NOTES_API_KEY"] != first["NOTES_API_KEY"]


def test_new_env_adds_the_key_of_a_newly_added_service(tmp_path: Path) -> None:
    infra, _ = new_env(tmp_path)
    first = read_env_file(infra / ".env")
    compose = (infra / "compose.yaml").read_text()
    (infra / "compose.yaml").write_text(
        compose + "\n# a new tool\n#   WIKI_API_KEY: ${WIKI_API_KEY:?run infra/new-env.sh}\n"
    )
    _, result = new_env_in_place(infra)
    assert result.returncode == 0 and "1 secret(s) added" in result.stdout
    written = read_env_file(infra / ".env")
    assert len(written["WIKI_API_KEY"]) == 64
    assert {k: v for k, v in written.items() if k != "WIKI_API_KEY"} == first, "existing keys changed"


def test_new_env_refuses_an_env_file_with_an_empty_function_key(tmp_path: Path) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    (infra / ".env").write_text("TOOLMESH_FUNCTIONS_KEY=\n")
    _, result = new_env(tmp_path)
    assert result.returncode == 1
    assert "TOOLMESH_FUNCTIONS_KEY" in result.stderr


def new_env_in_place(infra: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """Run the copied new-env.sh again without refreshing the copied compose file."""
    result = subprocess.run(["sh", str(infra / "new-env.sh")], capture_output=True, text=True, timeout=30, check=False)
    return infra, result


def compose_cli() -> list[str] | None:
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, check=False).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy else None


def compose_file_args(cli: list[str], tmp_path: Path) -> list[str]:
    """Point the CLI at the compose file; docker-compose 1.x predates the top-level ``name``
    key, so it gets a copy without it (in infra/'s place, so relative paths still resolve)."""
    if cli[-1] == "compose":
        return ["-f", str(COMPOSE_FILE)]
    document = dict(load_compose())
    document.pop("name", None)
    legacy = tmp_path / "compose-legacy.yaml"
    legacy.write_text(yaml.safe_dump(document))
    return ["-f", str(legacy), "--project-directory", str(INFRA), "-p", "toolmesh"]


def test_compose_file_is_valid_for_the_compose_cli(tmp_path: Path) -> None:
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed; schema check not run")
    infra, _ = new_env(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    env.update(read_env_file(infra / ".env"))
    result = subprocess.run(
        [*cli, *compose_file_args(cli, tmp_path), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_cli_stops_when_a_secret_is_missing(tmp_path: Path) -> None:
    cli = compose_cli()
    if cli is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_KEY", "_SECRET"))}
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = subprocess.run(
        [*cli, *compose_file_args(cli, tmp_path), "--env-file", str(empty), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "run infra/new-env.sh" in result.stderr


def test_compose_mailbox_accepts_the_orchestrators_callback_urls() -> None:
    """The URL the orchestrator builds from TOOLMESH_PUBLIC_URL passes the mailbox's own check."""
    from agent_loop.callbacks import callback_url
    from tools.mailbox.callbacks import check_callback_url, parse_origins

    public = compose_environment(ORCHESTRATOR)["TOOLMESH_PUBLIC_URL"] or ""
    allowed = parse_origins(compose_environment("mailbox")["MAILBOX_CALLBACK_ALLOWED_ORIGINS"] or "")
    url = callback_url(public, "secret", "run-1", "call-1")
    assert check_callback_url(url, allowed) == url
    assert urlsplit(public).hostname == ORCHESTRATOR, "callbacks must reach the orchestrator by its compose name"
