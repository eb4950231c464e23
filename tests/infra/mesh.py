"""What the mesh is made of, read from the repository, for the infrastructure tests.

The service list comes from the registry when it exists (every tool it names must be
deployable), and otherwise from the tool folders; the gateway and the orchestrator are always
part of the mesh. The other helpers load the compose file, parse Dockerfiles with BuildKit's own
parser (the ``dockerfile`` package) and find which environment variables a service's settings
class reads, so a typo in a deployment file is caught here rather than at 3 a.m. in a container.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import dockerfile  # type: ignore[import-not-found]  # compiled BuildKit parser, no stubs
import yaml
from pydantic_settings import BaseSettings

from tests.support.servers import REPO_ROOT

INFRA = REPO_ROOT / "infra"
COMPOSE_FILE = INFRA / "compose.yaml"
REGISTRY_FILE = REPO_ROOT / "specs" / "registry.yaml"
ORCHESTRATOR = "orchestrator"
GATEWAY = "llm-gateway"
CONTAINER_PORT = 8000
FUNCTIONS_IMAGE = "mcr.microsoft.com/azure-functions/python:4-python3.11"


@dataclass(frozen=True, kw_only=True)
class Service:
    """One HTTP service of the mesh that runs as its own container."""

    name: str
    """Name in compose, azure.yaml and Bicep (``notes``, ``llm-gateway``)."""
    package: str
    """Import path of its package (``tools.notes``, ``llm_gateway``)."""

    @property
    def folder(self) -> Path:
        return REPO_ROOT.joinpath(*self.package.split("."))

    @property
    def dockerfile(self) -> Path:
        return self.folder / "Dockerfile"

    @property
    def app(self) -> str:
        """The ``module:attr`` the tests serve and the image must serve."""
        return f"{self.package}.main:app"

    @property
    def settings_module(self) -> str:
        return f"{self.package}.config"


def registry_tool_names() -> list[str] | None:
    """Tool names in specs/registry.yaml, or None while there is no registry."""
    if not REGISTRY_FILE.exists():
        return None
    raw = yaml.safe_load(REGISTRY_FILE.read_text())
    tools = raw.get("tools") if isinstance(raw, dict) else None
    if isinstance(tools, dict):
        # The model registered as a tool is the gateway itself, which is always a service of its own;
        # an MCP entry on another tool's origin (calc's /mcp) is that tool's service too.
        bases = [str(e.get("base_url")) for e in tools.values() if isinstance(e, dict) and e.get("base_url")]
        return sorted(
            str(name)
            for name, entry in tools.items()
            if not _served_by_gateway(entry) and not _served_by_another_tool(entry, bases)
        )
    if isinstance(tools, list):
        return sorted(str(entry["name"]) for entry in tools if isinstance(entry, dict) and "name" in entry)
    raise AssertionError(f"{REGISTRY_FILE} has no 'tools' mapping or list to read service names from")


def _served_by_another_tool(entry: Any, bases: list[str]) -> bool:
    url = str(entry.get("url", "")) if isinstance(entry, dict) and entry.get("kind") == "mcp" else ""
    return bool(url) and any(url.startswith(f"{base}/") for base in bases)


def _served_by_gateway(entry: Any) -> bool:
    return isinstance(entry, dict) and "LLM_GATEWAY_URL" in str(entry.get("base_url", ""))


def tool_folder_names() -> list[str]:
    """Tool packages under tools/ that define a service (a main.py)."""
    return sorted(p.parent.name for p in (REPO_ROOT / "tools").glob("*/main.py"))


def tool_names() -> list[str]:
    """Every tool the deployment must carry: the registry's, else those with a folder."""
    named = registry_tool_names()
    return named if named is not None else tool_folder_names()


def container_services() -> list[Service]:
    """The gateway and every tool: each is its own image serving ``uvicorn <app>`` on 8000."""
    tools = [Service(name=name, package=f"tools.{name}") for name in tool_names()]
    return [Service(name=GATEWAY, package="llm_gateway"), *tools]


def registry_settings(tool: str) -> set[str]:
    """Environment variables the registry reads for a tool (URLs and secrets), by convention
    ``<TOOL>_URL`` and ``<TOOL>_API_KEY`` while there is no registry."""
    if not REGISTRY_FILE.exists():
        return {f"{tool.upper()}_URL", f"{tool.upper()}_API_KEY"}
    entry = yaml.safe_load(REGISTRY_FILE.read_text())["tools"][tool]
    names = {m["name"] for m in _VARIABLE.finditer(yaml.safe_dump(entry))}
    names.update(str(v) for v in (entry.get("auth") or {}).values())
    return names


def all_service_names() -> list[str]:
    return [ORCHESTRATOR, *(s.name for s in container_services())]


@cache
def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict), f"{COMPOSE_FILE} is not a YAML mapping"
    return document


def compose_environment(service: str) -> dict[str, str | None]:
    """The service's ``environment`` as a mapping (both compose spellings accepted)."""
    env = load_compose()["services"][service].get("environment", {})
    if isinstance(env, list):
        pairs = [item.split("=", 1) for item in env]
        return {pair[0]: (pair[1] if len(pair) == 2 else None) for pair in pairs}
    return {str(k): (None if v is None else str(v)) for k, v in env.items()}


def parse_dockerfile(path: Path) -> tuple[Any, ...]:
    """Instructions (``dockerfile.Command``: cmd, value, json...) as BuildKit parses them."""
    commands: tuple[Any, ...] = dockerfile.parse_file(str(path))
    return commands


def instructions(path: Path, name: str) -> list[Any]:
    return [c for c in parse_dockerfile(path) if c.cmd == name.upper()]


def settings_env_names(module: str) -> set[str]:
    """Environment variable names a package's ``Settings`` class reads (upper-cased)."""
    try:
        settings_cls = importlib.import_module(module).Settings
    except (ImportError, AttributeError) as exc:
        raise AssertionError(f"{module}.Settings, which says what the service reads, is missing: {exc}") from exc
    assert issubclass(settings_cls, BaseSettings), f"{module}.Settings is not a BaseSettings"
    prefix = str(settings_cls.model_config.get("env_prefix", "") or "")
    names: set[str] = set()
    for field_name, field in settings_cls.model_fields.items():
        aliases = [a for a in (field.alias, field.validation_alias) if isinstance(a, str)]
        names.update(a.upper() for a in aliases)
        if not aliases or settings_cls.model_config.get("populate_by_name"):
            names.add(f"{prefix}{field_name}".upper())
    return names


_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?(?P<rest>[^}]*)\}")


def compose_variables(text: str) -> dict[str, str]:
    """Variables the compose file interpolates, each with its operator ('' when plain)."""
    return {m["name"]: m["op"] or "" for m in _VARIABLE.finditer(text)}
