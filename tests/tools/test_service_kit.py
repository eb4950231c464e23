"""Every tool service is built the same way: its own folder plus ``tools/service_kit``.

Each service is deployed on its own: its image holds its folder and the kit, and it may
import the kit but never another service or the orchestrator. The kit, in turn, knows no
service. These tests keep that layout, and each requirements file complete.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.servers import REPO_ROOT
from tools.service_specs import SERVICES

KIT = REPO_ROOT / "tools" / "service_kit"
REQUIRED_FILES = (
    "main.py",
    "config.py",
    "errors.py",
    "schemas.py",
    "requirements.txt",
    "Dockerfile",
    "routers/__init__.py",
)
_ORCHESTRATOR_PACKAGES = ("openapi_engine", "agent_loop", "durable_host", "llm_gateway", "tools.service_specs")


def test_all_four_services_exist() -> None:
    assert set(SERVICES) >= {"calc", "issues", "mailbox", "notes"}
    assert "service_kit" not in SERVICES


@pytest.mark.parametrize("name", SERVICES)
def test_service_has_the_standard_layout(name: str) -> None:
    folder = REPO_ROOT / "tools" / name
    missing = [path for path in REQUIRED_FILES if not (folder / path).exists()]
    assert not missing, f"tools/{name} lacks {', '.join(missing)}"


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_copies_only_its_service_and_the_kit_and_runs_uvicorn(name: str) -> None:
    dockerfile = (REPO_ROOT / "tools" / name / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY tools/__init__.py tools/__init__.py" in dockerfile
    assert "COPY tools/service_kit/ tools/service_kit/" in dockerfile
    assert f"COPY tools/{name}/ tools/{name}/" in dockerfile
    assert f'CMD ["uvicorn", "tools.{name}.main:app", "--host", "0.0.0.0", "--port", "8000"' in dockerfile
    copies = [line for line in dockerfile.splitlines() if line.startswith("COPY ")]
    allowed = (f"tools/{name}/", "tools/service_kit/", "tools/__init__.py")
    assert all(any(part in line for part in allowed) for line in copies)


def _imports_of(folder: Path, banned: list[str]) -> list[str]:
    found = []
    for path in folder.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        found += [
            f"{path.relative_to(REPO_ROOT)} imports {name}"
            for name in banned
            if f"import {name}" in text or f"from {name}" in text
        ]
    return found


@pytest.mark.parametrize("name", SERVICES)
def test_service_imports_no_other_tool_or_orchestrator(name: str) -> None:
    others = [f"tools.{other}" for other in SERVICES if other != name]
    assert _imports_of(REPO_ROOT / "tools" / name, [*others, *_ORCHESTRATOR_PACKAGES]) == []


def test_kit_imports_no_service_or_orchestrator() -> None:
    assert _imports_of(KIT, [*(f"tools.{name}" for name in SERVICES), *_ORCHESTRATOR_PACKAGES]) == []


# Import name -> distribution name, for the third-party packages the services use.
_DISTRIBUTIONS = {
    "fastapi": "fastapi",
    "starlette": "starlette",
    "pydantic": "pydantic",
    "pydantic_settings": "pydantic-settings",
    "httpx": "httpx",
    "pint": "pint",
    "uvicorn": "uvicorn",
    "mcp": "mcp",
    "orjson": "orjson",
}
# Namespace packages: the longest matching module prefix names the distribution.
_NAMESPACED = {
    "opentelemetry": "opentelemetry-api",
    "opentelemetry.sdk": "opentelemetry-sdk",
    "opentelemetry.semconv": "opentelemetry-semantic-conventions",
    "opentelemetry.exporter.otlp.proto.http": "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry.instrumentation.logging": "opentelemetry-instrumentation-logging",
    "azure.monitor.opentelemetry.exporter": "azure-monitor-opentelemetry-exporter",
    "azure.identity": "azure-identity",
}


def _distribution(module: str) -> str | None:
    prefixes = [p for p in _NAMESPACED if module == p or module.startswith(p + ".")]
    return _NAMESPACED[max(prefixes, key=len)] if prefixes else _DISTRIBUTIONS.get(module.split(".")[0])


@pytest.mark.parametrize("name", SERVICES)
def test_requirements_cover_every_third_party_import(name: str) -> None:
    import ast
    import sys

    folder = REPO_ROOT / "tools" / name
    pinned = {
        line.split("==")[0].strip().lower()
        for line in (folder / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert "uvicorn" in pinned
    for path in [*folder.rglob("*.py"), *KIT.rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module]
                if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                else []
            )
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top == "tools" or top == "__future__":
                    continue
                distribution = _distribution(module)
                assert distribution is not None, f"{path} imports {module}, unknown to this test"
                assert distribution in pinned, f"{path} imports {module} but requirements.txt lacks {distribution}"


def test_the_tracer_setup_is_the_orchestrators_word_for_word() -> None:
    """The Functions app and the services deploy apart, so each holds its own copy of ``exporters``.

    One copy changed alone would make the host and the services choose exporters, or sample,
    differently; the gateway's image copies the kit's.
    """
    kit = (KIT / "exporters.py").read_text(encoding="utf-8")
    assert kit == (REPO_ROOT / "orchestrator" / "agent_loop" / "exporters.py").read_text(encoding="utf-8")
    gateway = (REPO_ROOT / "llm_gateway" / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY tools/service_kit/exporters.py tools/service_kit/exporters.py" in gateway
