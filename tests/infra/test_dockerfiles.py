"""Every image starts the same app the tests start, from files that exist.

No image is built here (no Docker engine); instead each Dockerfile is parsed with BuildKit's
parser, its CMD is compared with what the tests serve, and then that very command is run
locally (on a loopback port) to prove it starts a healthy service.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.infra.mesh import (
    CONTAINER_PORT,
    FUNCTIONS_IMAGE,
    Service,
    container_services,
    instructions,
    parse_dockerfile,
    tool_names,
)
from tests.support.servers import REPO_ROOT, free_port, start_server

ORCHESTRATOR_DOCKERFILE = REPO_ROOT / "orchestrator" / "Dockerfile"
SCRIPT_ROOT = "/home/site/wwwroot"
_APP_IN_TESTS = re.compile(r"(?P<package>tools\.(?:\{name\}|\w+)|llm_gateway)\.main:app")

SERVICES = container_services()


def service_ids() -> list[str]:
    return [s.name for s in SERVICES]


def cmd_argv(service: Service) -> list[str]:
    assert service.dockerfile.is_file(), f"{service.dockerfile.relative_to(REPO_ROOT)} is missing"
    assert not instructions(service.dockerfile, "ENTRYPOINT"), f"{service.name}: ENTRYPOINT hides the CMD"
    cmds = instructions(service.dockerfile, "CMD")
    assert cmds, f"{service.name}: the Dockerfile has no CMD"
    last = cmds[-1]
    assert last.json, f"{service.name}: CMD must be exec form (JSON) so uvicorn gets the signals"
    return list(last.value)


def uvicorn_options(argv: list[str]) -> tuple[str, dict[str, str]]:
    """The app and the ``--option value`` pairs of a uvicorn command line."""
    if argv[:3] == ["python", "-m", "uvicorn"]:
        argv = argv[2:]
    assert argv and argv[0] == "uvicorn", f"the command does not run uvicorn: {argv}"
    positional = [a for i, a in enumerate(argv[1:], 1) if not a.startswith("-") and not argv[i - 1].startswith("--")]
    assert len(positional) == 1, f"expected exactly one app in {argv}"
    options = {argv[i]: argv[i + 1] for i in range(1, len(argv) - 1) if argv[i].startswith("--")}
    return positional[0], options


def apps_started_by_tests() -> set[str]:
    """``module:app`` strings the service tests serve (tests/infra excluded)."""
    found: set[str] = set()
    for path in (REPO_ROOT / "tests").rglob("*.py"):
        if "infra" in path.relative_to(REPO_ROOT / "tests").parts[:1]:
            continue
        for match in _APP_IN_TESTS.finditer(path.read_text()):
            package = match["package"]
            names = tool_names() if "{name}" in package else [package.split(".")[-1]]
            prefix = "tools." if package.startswith("tools.") else ""
            found.update(f"{prefix}{name}.main:app" for name in names)
    return found


def pinned(requirements: Path) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            name, sep, version = line.partition("==")
            assert sep, f"{requirements.relative_to(REPO_ROOT)}: '{line}' is not pinned with =="
            pins[name.strip().lower().split("[")[0]] = version.strip()
    return pins


def installed_with(requirements: dict[str, str]) -> set[str]:
    """Distributions pip would install for these requirements: them and their dependencies,
    as the installed metadata says (names normalised to underscores)."""
    seen: set[str] = set()
    pending = [canonicalize_name(name) for name in requirements]
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(canonicalize_name(requirement.name))
    return {name.replace("-", "_") for name in seen}


def project_pins() -> dict[str, str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    lines = [*project["dependencies"], *sum(project.get("optional-dependencies", {}).values(), [])]
    return {n.strip().lower().split("[")[0]: v.strip() for n, _, v in (d.partition("==") for d in lines)}


@pytest.mark.parametrize("service", SERVICES, ids=service_ids())
def test_image_serves_the_app_the_tests_start(service: Service) -> None:
    app, options = uvicorn_options(cmd_argv(service))
    assert app == service.app, f"{service.name} image serves {app}, the tests serve {service.app}"
    assert app in apps_started_by_tests(), f"no test starts {app}, so the image runs untested code"
    assert options.get("--host") == "0.0.0.0", f"{service.name}: uvicorn must listen on all interfaces"
    assert options.get("--port") == str(CONTAINER_PORT), f"{service.name}: uvicorn must listen on 8000"


@pytest.mark.parametrize("service", SERVICES, ids=service_ids())
def test_image_command_starts_a_healthy_service(service: Service, tmp_path: Path) -> None:
    app, options = uvicorn_options(cmd_argv(service))
    port = free_port()
    options.update({"--host": "127.0.0.1", "--port": str(port)})
    args = ["-m", "uvicorn", app, *(item for pair in options.items() for item in pair)]
    prefix = "TOOLMESH_GATEWAY" if service.package == "llm_gateway" else service.name.upper()
    env = {f"{prefix}_DB": str(tmp_path / "service.sqlite3")}
    server = start_server(args, port=port, log_path=tmp_path / "service.log", env=env, timeout=60)
    try:
        import httpx

        response = httpx.get(f"{server.url}/healthz", timeout=5)
        assert response.status_code == 200, response.text
    finally:
        server.stop()


@pytest.mark.parametrize(
    "path", [*(s.dockerfile for s in SERVICES), ORCHESTRATOR_DOCKERFILE], ids=[*service_ids(), "orchestrator"]
)
def test_dockerfile_copies_only_paths_that_exist(path: Path) -> None:
    assert path.is_file(), f"{path.relative_to(REPO_ROOT)} is missing"
    for copy in instructions(path, "COPY") + instructions(path, "ADD"):
        if any(flag.startswith("--from") for flag in copy.flags):
            continue
        for source in copy.value[:-1]:
            assert (REPO_ROOT / source).exists(), (
                f"{path.relative_to(REPO_ROOT)} line {copy.start_line}: {source} does not exist "
                "(the build context is the repository root)"
            )


@pytest.mark.parametrize("service", SERVICES, ids=service_ids())
def test_image_installs_its_own_pinned_requirements(service: Service) -> None:
    requirements = service.folder / "requirements.txt"
    assert requirements.is_file(), f"{requirements.relative_to(REPO_ROOT)} is missing"
    relative = requirements.relative_to(REPO_ROOT).as_posix()
    copied = {c.value[0] for c in instructions(service.dockerfile, "COPY")}
    assert relative in copied or any(relative.startswith(c.rstrip("/") + "/") for c in copied), (
        f"{service.name}: the Dockerfile never copies {relative}"
    )


@pytest.mark.parametrize(
    "requirements",
    [*(s.folder / "requirements.txt" for s in SERVICES), REPO_ROOT / "orchestrator" / "requirements.txt"],
    ids=[*service_ids(), "orchestrator"],
)
def test_image_requirements_match_the_project_pins(requirements: Path) -> None:
    assert requirements.is_file(), f"{requirements.relative_to(REPO_ROOT)} is missing"
    project = project_pins()
    drift = {n: (v, project[n]) for n, v in pinned(requirements).items() if n in project and project[n] != v}
    assert not drift, f"{requirements.relative_to(REPO_ROOT)} differs from pyproject.toml: {drift}"


def stages(path: Path) -> list[list[Any]]:
    """Instructions grouped by build stage (each starts at a FROM)."""
    grouped: list[list[Any]] = []
    for command in parse_dockerfile(path):
        if command.cmd == "FROM":
            grouped.append([])
        if grouped:
            grouped[-1].append(command)
    return grouped


def prune_command(path: Path) -> str:
    """The Python code of the RUN that prunes the app root per .funcignore."""
    runs = [c for c in stages(path)[0] if c.cmd == "RUN" and ".funcignore" in c.original]
    assert len(runs) == 1, "the app stage must prune the app root with .funcignore, in one RUN"
    argv = shlex.split(runs[0].value[0])
    assert argv[:2] == ["python", "-c"], f"unexpected prune command {argv[:2]}"
    return argv[2]


def pruned_app_root(tmp_path: Path) -> Path:
    """The app root as the image holds it: orchestrator/ copied, then the Dockerfile's own prune
    step run on the copy (with a local.settings.json planted to prove it is dropped)."""
    root = tmp_path / "src"
    shutil.copytree(REPO_ROOT / "orchestrator", root, ignore=shutil.ignore_patterns(".toolmesh"))
    (root / "local.settings.json").write_text('{"Values": {"SECRET": "x"}}')
    code = prune_command(ORCHESTRATOR_DOCKERFILE).replace("'/src'", repr(str(root)))
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    return root


def test_orchestrator_image_runs_the_functions_host_on_the_pinned_runtime() -> None:
    app_stage, runtime = stages(ORCHESTRATOR_DOCKERFILE)
    assert [s[0].value[0] for s in (app_stage, runtime)] == [FUNCTIONS_IMAGE] * 2, "stages must use the pinned image"
    assert not [c for c in runtime if c.cmd in {"CMD", "ENTRYPOINT"}], (
        "the base image's entrypoint starts the Functions host; overriding it would skip the host"
    )
    env = {c.value[i]: c.value[i + 1] for c in runtime if c.cmd == "ENV" for i in range(0, len(c.value), 2)}
    assert env.get("AzureWebJobsScriptRoot") == SCRIPT_ROOT
    staged = [c.value for c in app_stage if c.cmd == "COPY"]
    assert staged == [("orchestrator/", "/src/")], "the app stage copies the app root"
    copies = {c.value[0]: c.value[-1] for c in runtime if c.cmd == "COPY"}
    from_app = [c for c in runtime if c.cmd == "COPY" and "--from=app" in c.flags]
    assert [c.value for c in from_app] == [("/src/", f"{SCRIPT_ROOT}/")], "the pruned app root is the script root"
    registry = env.get("TOOLMESH_REGISTRY", "")
    assert registry.startswith(copies.get("specs/", "<specs/ not copied>")), "the registry is not in the image"
    installs = [c.original for c in runtime if c.cmd == "RUN" and "pip install" in c.original]
    assert any("requirements.txt" in line for line in installs), "orchestrator/requirements.txt not installed"


def test_orchestrator_image_leaves_out_what_azure_leaves_out(tmp_path: Path) -> None:
    root = pruned_app_root(tmp_path)
    assert (root / "function_app.py").is_file() and (root / "host.json").is_file()
    assert not (root / "local.settings.json").exists(), "local settings (secrets) would ship in the image"
    ignored = [
        line.strip().rstrip("/")
        for line in (root / ".funcignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    left = [p.relative_to(root) for name in ignored for p in root.glob(f"**/{name}")]
    assert not left, f"the image keeps what .funcignore excludes from Azure: {left}"


def test_orchestrator_image_script_root_holds_the_app_the_tests_start(tmp_path: Path) -> None:
    """Import function_app.py as the Functions host does, from the pruned app root and with only
    orchestrator/requirements.txt installed: the repository's other packages, the pruned ones and
    the development dependencies are blocked, so an import the image cannot satisfy fails here."""
    root = pruned_app_root(tmp_path)
    installed = installed_with(pinned(REPO_ROOT / "orchestrator" / "requirements.txt"))
    absent = sorted({n.replace("-", "_") for n in project_pins()} - installed)
    source_packages = {p.parent.name for p in (REPO_ROOT / "orchestrator").glob("*/__init__.py")}
    pruned = sorted(n for n in source_packages if not (root / n).exists())
    blocked = ["tools", "llm_gateway", "tests", *pruned, *absent]
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "import function_app\n"
        "print(len(function_app.app.get_functions()))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert int(result.stdout.strip().splitlines()[-1]) > 0, "function_app.app registers no functions"
