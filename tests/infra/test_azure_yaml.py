"""azure.yaml names each service, points at code and Dockerfiles that exist, and each service
maps to the Azure resource Bicep tags for it (azd finds resources by ``azd-service-name``)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.infra.bicep import MAIN, literal_objects, parse
from tests.infra.mesh import GATEWAY, INFRA, ORCHESTRATOR, all_service_names, container_services
from tests.support.servers import REPO_ROOT

AZURE_YAML = REPO_ROOT / "azure.yaml"


def azure_yaml() -> dict[str, Any]:
    document = yaml.safe_load(AZURE_YAML.read_text())
    assert isinstance(document, dict), "azure.yaml is not a mapping"
    return document


def services() -> dict[str, Any]:
    found: dict[str, Any] = azure_yaml()["services"]
    return found


def test_azure_yaml_names_every_service() -> None:
    missing = set(all_service_names()) - set(services())
    assert not missing, f"azure.yaml lacks {sorted(missing)}"
    infra = azure_yaml()["infra"]
    assert infra["provider"] == "bicep"
    assert (REPO_ROOT / infra["path"] / f"{infra['module']}.bicep").resolve() == MAIN


def test_azure_yaml_deploys_the_orchestrator_as_code_to_functions() -> None:
    orchestrator = services()[ORCHESTRATOR]
    assert (orchestrator["host"], orchestrator["language"]) == ("function", "python")
    root = (REPO_ROOT / orchestrator["project"]).resolve()
    assert root == REPO_ROOT / "orchestrator"
    for name in ("function_app.py", "host.json", "requirements.txt"):
        assert (root / name).is_file(), f"the Functions app root lacks {name}"


def test_azure_yaml_builds_each_container_service_from_its_dockerfile() -> None:
    for service in container_services():
        entry = services()[service.name]
        assert entry["host"] == "containerapp", f"{service.name} is not a Container App"
        project = REPO_ROOT / entry["project"]
        docker = entry["docker"]
        assert (project / docker["path"]).resolve() == service.dockerfile, f"{service.name}: wrong Dockerfile"
        assert (project / docker["context"]).resolve() == REPO_ROOT, f"{service.name}: context is not the root"


def test_each_azd_service_is_tagged_on_its_azure_resource() -> None:
    tagged = {service["name"] for service in parse(MAIN)["variables"]["tools"]["value"]}
    gateway = parse(MAIN)["modules"]["gatewayApp"]["config"]["params"]["serviceName"]
    tagged.add(gateway)
    function_app = parse(INFRA / "modules" / "function-app.bicep")["resources"]["app"]["config"]
    tags = [o.get("azd-service-name") for o in literal_objects(function_app["tags"])]
    tagged.update(t for t in tags if isinstance(t, str))
    assert GATEWAY in tagged and ORCHESTRATOR in tagged
    assert set(services()) == tagged, f"azure.yaml {sorted(services())} != tagged in Bicep {sorted(tagged)}"


def hook(service: str, name: str) -> str:
    command: str = services()[service]["hooks"][name]["posix"]["run"]
    return command


def test_package_hooks_put_the_registry_where_the_app_setting_points(tmp_path: Path) -> None:
    registry_path = parse(MAIN)["variables"]["registryPath"]["value"]
    assert registry_path == "/home/site/wwwroot/specs/registry.yaml"
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "registry.yaml").write_text("tools: {}\n")
    app_root = tmp_path / "orchestrator"
    (app_root / "specs").mkdir(parents=True)
    (app_root / "specs" / "stale.yaml").write_text("old\n")
    subprocess.run(["sh", "-c", hook(ORCHESTRATOR, "prepackage")], cwd=app_root, check=True, timeout=30)
    assert (app_root / "specs" / "registry.yaml").read_text() == "tools: {}\n"
    assert not (app_root / "specs" / "stale.yaml").exists(), "a stale copy survived packaging"
    subprocess.run(["sh", "-c", hook(ORCHESTRATOR, "postpackage")], cwd=app_root, check=True, timeout=30)
    assert not (app_root / "specs").exists()
