"""The modules every tool service carries stay the same in each of them.

Each service is deployed on its own and may not import another, so the plumbing they
all need (SQLite access, Idempotency-Key replay, the size limit and access log, the
health route) is copied into each. This test keeps the copies from drifting apart: a
fix made in one must be made in all.
"""

from __future__ import annotations

import pytest

from tests.support.servers import REPO_ROOT
from tools.export_specs import SERVICES

SHARED_MODULES = (
    "app_kit.py",
    "database.py",
    "dependencies.py",
    "idempotency.py",
    "logs.py",
    "middleware.py",
    "routers/health.py",
)
REQUIRED_FILES = (
    "main.py",
    "config.py",
    "dependencies.py",
    "errors.py",
    "schemas.py",
    "requirements.txt",
    "Dockerfile",
    "routers/__init__.py",
)


def test_all_four_services_exist() -> None:
    assert set(SERVICES) >= {"calc", "issues", "mailbox", "notes"}


@pytest.mark.parametrize("module", SHARED_MODULES)
def test_shared_modules_are_identical_in_every_service(module: str) -> None:
    texts = {name: (REPO_ROOT / "tools" / name / module).read_text(encoding="utf-8") for name in SERVICES}
    reference = texts["notes"]
    drifted = sorted(name for name, text in texts.items() if text != reference)
    assert not drifted, f"tools/<name>/{module} differs from tools/notes/{module} in: {', '.join(drifted)}"


@pytest.mark.parametrize("name", SERVICES)
def test_service_has_the_standard_layout(name: str) -> None:
    folder = REPO_ROOT / "tools" / name
    missing = [path for path in REQUIRED_FILES if not (folder / path).exists()]
    assert not missing, f"tools/{name} lacks {', '.join(missing)}"


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_copies_only_its_service_and_runs_uvicorn(name: str) -> None:
    dockerfile = (REPO_ROOT / "tools" / name / "Dockerfile").read_text(encoding="utf-8")
    assert "COPY tools/__init__.py tools/__init__.py" in dockerfile
    assert f"COPY tools/{name}/ tools/{name}/" in dockerfile
    assert f'CMD ["uvicorn", "tools.{name}.main:app", "--host", "0.0.0.0", "--port", "8000"]' in dockerfile
    copies = [line for line in dockerfile.splitlines() if line.startswith("COPY ")]
    assert all(f"tools/{name}/" in line or "tools/__init__.py" in line for line in copies)


@pytest.mark.parametrize("name", SERVICES)
def test_service_imports_no_other_tool_or_orchestrator(name: str) -> None:
    others = [other for other in SERVICES if other != name]
    for path in (REPO_ROOT / "tools" / name).rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for banned in [
            *(f"tools.{other}" for other in others),
            "openapi_engine",
            "agent_loop",
            "durable_host",
            "llm_gateway",
            "tools.export_specs",
        ]:
            assert f"import {banned}" not in text and f"from {banned}" not in text, f"{path} imports {banned}"


# Import name -> distribution name, for the third-party packages the services use.
_DISTRIBUTIONS = {
    "fastapi": "fastapi",
    "starlette": "starlette",
    "pydantic": "pydantic",
    "pydantic_settings": "pydantic-settings",
    "httpx": "httpx",
    "pint": "pint",
    "uvicorn": "uvicorn",
}


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
    for path in folder.rglob("*.py"):
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
                assert top in _DISTRIBUTIONS, f"{path} imports {top}, unknown to this test"
                assert _DISTRIBUTIONS[top] in pinned, f"{path} imports {top} but requirements.txt lacks it"
