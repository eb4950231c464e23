"""Check the property names in Bicep resource bodies against Azure's own REST models.

No Bicep compiler runs here, but the Azure management SDKs for Python are generated from the
same REST API specifications Azure Resource Manager validates a deployment against: each
resource type has a model class naming every property it accepts, nested models and all. The
literal parts of a Bicep body (objects and arrays written out, not expressions) are walked
against those classes, so a misspelt or misplaced property (``scaleAndConcurency``, ``ingres``,
``volumeMounts`` on the template instead of the container) is caught offline.

The SDK packages carry one (recent) API version each, which may be newer than the one a
template pins. ARM API versions add properties and very rarely remove them, so a name the
model lacks is almost certainly wrong; a name it has may still be newer than the pinned
version, which only a real deployment (or what-if) would reveal.

Two generations of SDK models exist: "hybrid" models (``rest_field`` attributes with their
REST names) and msrest models (an ``_attribute_map`` with dotted, flattened REST keys such as
``properties.principalId``). Both are read.
"""

from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

# ARM resource type -> (azure.mgmt.<package>, model class of the request body)
RESOURCE_MODELS: dict[str, tuple[str, str]] = {
    "Microsoft.App/containerApps": ("appcontainers", "ContainerApp"),
    "Microsoft.App/managedEnvironments": ("appcontainers", "ManagedEnvironment"),
    "Microsoft.App/managedEnvironments/storages": ("appcontainers", "ManagedEnvironmentStorage"),
    "Microsoft.Web/sites": ("web", "Site"),
    "Microsoft.Web/serverfarms": ("web", "AppServicePlan"),
    "Microsoft.Web/sites/config": ("web", "StringDictionary"),
    "Microsoft.DurableTask/schedulers": ("durabletask", "Scheduler"),
    "Microsoft.DurableTask/schedulers/taskHubs": ("durabletask", "TaskHub"),
    "Microsoft.KeyVault/vaults": ("keyvault", "VaultCreateOrUpdateParameters"),
    "Microsoft.KeyVault/vaults/secrets": ("keyvault", "SecretCreateOrUpdateParameters"),
    "Microsoft.Storage/storageAccounts": ("storage", "StorageAccountCreateParameters"),
    "Microsoft.Storage/storageAccounts/blobServices": ("storage", "BlobServiceProperties"),
    "Microsoft.Storage/storageAccounts/blobServices/containers": ("storage", "BlobContainer"),
    "Microsoft.Storage/storageAccounts/fileServices": ("storage", "FileServiceProperties"),
    "Microsoft.Storage/storageAccounts/fileServices/shares": ("storage", "FileShare"),
    "Microsoft.ContainerRegistry/registries": ("containerregistry", "Registry"),
    "Microsoft.ManagedIdentity/userAssignedIdentities": ("msi", "Identity"),
    "Microsoft.Insights/components": ("applicationinsights", "ApplicationInsightsComponent"),
    "Microsoft.OperationalInsights/workspaces": ("loganalytics", "Workspace"),
    "Microsoft.Authorization/roleAssignments": ("authorization", "RoleAssignmentCreateParameters"),
    "Microsoft.Cache/redis": ("redis", "RedisCreateParameters"),
}
BICEP_KEYWORDS = {"name", "parent", "scope", "dependsOn"}
"""Keys of a Bicep resource body that are Bicep's own, not part of the REST body."""

Kind = Literal["one", "list", "map"]


@dataclass(frozen=True, kw_only=True)
class Slot:
    """What one property holds: a scalar (target None), a model, or a list or map of them."""

    kind: Kind
    target: type | dict[str, Slot] | None


def model_class(resource_type: str, api_version: str) -> tuple[type, str]:
    """The request-body model of a resource type, and the API version that model describes.

    Packages that still ship several API versions (``azure.mgmt.<pkg>.v2022_04_01``) give
    the model of exactly ``api_version`` when they have it; the others describe one version,
    the default of their client configuration.
    """
    package, name = RESOURCE_MODELS[resource_type]
    versioned = f"azure.mgmt.{package}.v{api_version.replace('-', '_')}.models"
    try:
        models = importlib.import_module(versioned)
        version = api_version
    except ModuleNotFoundError:
        models = importlib.import_module(f"azure.mgmt.{package}.models")
        version = _default_api_version(package)
    cls: type = getattr(models, name)
    return cls, version


@cache
def _default_api_version(package: str) -> str:
    root = Path(importlib.import_module(f"azure.mgmt.{package}").__file__ or "").parent
    text = (root / "_configuration.py").read_text()
    match = re.search(r'kwargs\.pop\("api_version", "([0-9]{4}-[0-9]{2}-[0-9]{2}[a-z-]*)"\)', text)
    assert match, f"cannot tell which API version azure.mgmt.{package} describes"
    return match.group(1)


def _resolve(owner: type, name: str) -> type | None:
    """A model class named in ``owner``'s package; enums and unknown names count as scalars."""
    for module_name in (owner.__module__, owner.__module__.rsplit(".", 1)[0]):
        module = sys.modules.get(module_name) or importlib.import_module(module_name)
        found = getattr(module, name, None)
        if isinstance(found, type):
            return None if issubclass(found, Enum) else found
    return None


def _hybrid_schema(cls: type) -> dict[str, Slot]:
    schema: dict[str, Slot] = {}
    for klass in reversed(cls.__mro__):
        annotations = vars(klass).get("__annotations__", {})
        for attr, value in vars(klass).items():
            if type(value).__name__ != "_RestField":
                continue
            rest = getattr(value, "_rest_name_input", None) or attr
            text = str(annotations.get(attr, ""))
            names = re.findall(r"_models\.(\w+)", text)
            target = _resolve(cls, names[-1]) if names else None
            kind: Kind = (
                "map" if re.search(r"[dD]ict\[str", text) else "list" if re.search(r"[lL]ist\[", text) else "one"
            )
            schema[rest] = Slot(kind=kind, target=target)
    return schema


def _msrest_schema(cls: type) -> dict[str, Slot]:
    schema: dict[str, Slot] = {}
    attribute_map: dict[str, dict[str, str]] = cast(Any, cls)._attribute_map
    for spec in attribute_map.values():
        path = [part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", spec["key"])]
        type_text = spec["type"]
        kind: Kind = "list" if type_text.startswith("[") else "map" if type_text.startswith("{") else "one"
        target = _resolve(cls, type_text.strip("[]{}"))
        node = schema
        for part in path[:-1]:
            slot = node.setdefault(part, Slot(kind="one", target={}))
            assert isinstance(slot.target, dict)
            node = slot.target
        node[path[-1]] = Slot(kind=kind, target=target)
    return schema


@cache
def schema_of(cls: type) -> dict[str, Slot]:
    """REST property name -> what it holds, for one model class."""
    return _msrest_schema(cls) if hasattr(cls, "_attribute_map") else _hybrid_schema(cls)


def is_literal_object(node: Any) -> bool:
    return isinstance(node, dict) and not (len(node) == 1 and ({"function", "operator"} & set(node)))


def unknown_properties(body: Any, target: type | dict[str, Slot], path: str) -> list[str]:
    """Paths of literal keys in ``body`` that the model does not define."""
    branches = _conditional_branches(body)
    if branches is not None:
        return [problem for branch in branches for problem in unknown_properties(branch, target, path)]
    if not is_literal_object(body):
        return []
    schema = target if isinstance(target, dict) else schema_of(target)
    found: list[str] = []
    for key, value in body.items():
        slot = schema.get(key)
        if slot is None:
            found.append(f"{path}.{key}")
            continue
        if slot.target is None:
            continue
        if slot.kind == "one":
            found += unknown_properties(value, slot.target, f"{path}.{key}")
        elif slot.kind == "list" and isinstance(value, list):
            for index, item in enumerate(value):
                found += unknown_properties(item, slot.target, f"{path}.{key}[{index}]")
        elif slot.kind == "map" and is_literal_object(value):
            for name, item in value.items():
                found += unknown_properties(item, slot.target, f"{path}.{key}.{name}")
    return found


def _conditional_branches(node: Any) -> list[Any] | None:
    """Both outcomes of ``cond ? a : b``, each of which must fit the model; None otherwise."""
    operator = node.get("operator") if isinstance(node, dict) and len(node) == 1 else None
    if isinstance(operator, dict) and operator.get("type") == "conditional":
        operands = operator["operands"]
        return [operands["true_value"], operands["false_value"]]
    return None


def resource_body(resource: dict[str, Any]) -> dict[str, Any]:
    """The object a resource declares, through ``[for ...]`` loops and ``if`` conditions."""
    body: dict[str, Any] = resource["config"]
    while ("loop_type" in body or "condition" in body) and isinstance(body.get("config"), dict):
        body = body["config"]
    return {k: v for k, v in body.items() if k not in BICEP_KEYWORDS}
