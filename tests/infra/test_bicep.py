"""The Bicep templates parse, fit together and deploy every service the registry names.

Checked offline with a Bicep parser (see tests/infra/bicep.py for what that can and cannot
see): module wiring, documented and secure parameters, stable API versions, name lengths,
that each tool and the gateway get their own Container App with an HTTP scale rule, that the
Function App is on Flex Consumption with its secrets as Key Vault references, and that every
setting a service is given is one it reads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.arm_models import RESOURCE_MODELS, model_class, resource_body, unknown_properties
from tests.infra.bicep import (
    MAIN,
    PARAMETERS_FILE,
    TOKEN_LENGTH,
    bicep_files,
    decorators,
    fill,
    literal_objects,
    module_params,
    module_path,
    parse,
    references,
    walk,
)
from tests.infra.mesh import (
    GATEWAY,
    INFRA,
    ORCHESTRATOR,
    Service,
    compose_environment,
    container_services,
    registry_settings,
    settings_env_names,
    tool_names,
)
from tests.support.servers import REPO_ROOT

FILE_IDS = [p.relative_to(INFRA).as_posix() for p in bicep_files()]
SECRET_NAME = re.compile(r"(key|secret|password|token)$", re.IGNORECASE)
# Settings Flex Consumption rejects: the runtime and package come from functionAppConfig.
FLEX_FORBIDDEN = {
    "FUNCTIONS_WORKER_RUNTIME",
    "FUNCTIONS_EXTENSION_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTSHARE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "AzureWebJobsStorage",
}
# Settings the Functions host and platform read (not the app's Settings class).
PLATFORM_SETTINGS = re.compile(
    r"^(AzureWebJobsStorage__\w+|APPLICATIONINSIGHTS_\w+|AzureFunctionsJobHost__\w+"
    r"|DURABLE_TASK_SCHEDULER_CONNECTION_STRING)$"
)
NAME_LIMITS = {
    # module file -> {name parameter: longest name Azure accepts}
    "container-app.bicep": {"name": 32},
    "container-env.bicep": {"name": 60, "dataStorageAccountName": 24},
    "function-app.bicep": {"name": 60, "planName": 40, "storageAccountName": 24},
    "keyvault.bicep": {"name": 24},
    "registry.bicep": {"name": 50},
    "durable-scheduler.bicep": {"name": 64},
    "monitoring.bicep": {"workspaceName": 63, "appInsightsName": 260},
    "redis.bicep": {"name": 63},
}


def main() -> dict[str, Any]:
    return parse(MAIN)


def main_call(name: str) -> dict[str, Any]:
    return module_params(main()["modules"][name])


def tools_table() -> list[dict[str, Any]]:
    value: list[dict[str, Any]] = main()["variables"]["tools"]["value"]
    return value


def function_settings() -> tuple[set[str], dict[str, str]]:
    """Names of the orchestrator's plain settings, and its Key Vault settings with their secrets."""
    params = main_call("functionSettings")
    plain = {key for obj in literal_objects(params["settings"]) for key in obj}
    return plain, dict(params["secretSettings"])


def module_secrets() -> dict[str, str]:
    """Secrets written to the vault by a module of its own (one that makes it): {module: secret name}."""
    written: dict[str, str] = {}
    for name, call in main()["modules"].items():
        for resource in parse(module_path(MAIN, call))["resources"].values():
            secret_name = resource.get("config", {}).get("name")
            if resource["type"] == "Microsoft.KeyVault/vaults/secrets" and not resource["existing"]:
                if isinstance(secret_name, str) and isinstance(module_params(call).get(secret_name), str):
                    written[name] = module_params(call)[secret_name]
    return written


def vault_secrets() -> set[str]:
    return set(main_call("keyVault")["secrets"]) | set(module_secrets().values())


def _secret_name(item: Any) -> str:
    """A secret name given literally, or as the output of the module that writes that secret."""
    if isinstance(item, str):
        return item
    accessor = item["operator"]["operands"]
    return module_secrets()[accessor["operand_1"]]


@pytest.mark.parametrize("path", bicep_files(), ids=FILE_IDS)
def test_bicep_file_parses(path: Path) -> None:
    tree = parse(path)
    assert tree["parameters"] or path == MAIN, f"{path.name} declares nothing"


@pytest.mark.parametrize("path", bicep_files(), ids=FILE_IDS)
def test_bicep_module_calls_match_the_module_parameters(path: Path) -> None:
    for name, call in parse(path)["modules"].items():
        target = module_path(path, call)
        assert target.is_file(), f"{path.name}: module {name} points at missing {call['detail']['path']}"
        declared = parse(target)["parameters"]
        given = set(module_params(call))
        unknown = given - set(declared)
        assert not unknown, f"{path.name}: module {name} passes {sorted(unknown)}, unknown to {target.name}"
        required = {p for p, d in declared.items() if d.get("default") is None}
        assert required <= given, f"{path.name}: module {name} omits required {sorted(required - given)}"


@pytest.mark.parametrize("path", bicep_files(), ids=FILE_IDS)
def test_bicep_parameters_are_documented(path: Path) -> None:
    undocumented = [p for p, d in parse(path)["parameters"].items() if not decorators(d).get("description")]
    assert not undocumented, f"{path.name}: parameters without @description: {undocumented}"


@pytest.mark.parametrize("path", bicep_files(), ids=FILE_IDS)
def test_bicep_secret_parameters_are_secure_without_defaults(path: Path) -> None:
    for name, declaration in parse(path)["parameters"].items():
        secure = "secure" in decorators(declaration)
        if SECRET_NAME.search(name) and declaration["type"] == "string":
            assert secure, f"{path.name}: parameter {name} holds a secret but is not @secure()"
        if secure:
            assert not declaration.get("default"), f"{path.name}: secure parameter {name} has a default value"


@pytest.mark.parametrize("path", bicep_files(), ids=FILE_IDS)
def test_bicep_resources_use_stable_api_versions(path: Path) -> None:
    for name, resource in parse(path)["resources"].items():
        version = resource["api_version"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", version), f"{path.name}: {name} uses API version {version}"


def test_bicep_uses_one_api_version_per_resource_type() -> None:
    versions: dict[str, set[str]] = {}
    for path in bicep_files():
        for resource in parse(path)["resources"].values():
            versions.setdefault(resource["type"], set()).add(resource["api_version"])
    mixed = {kind: sorted(v) for kind, v in versions.items() if len(v) > 1}
    assert not mixed, f"resource types declared with different API versions: {mixed}"


def test_bicep_names_fit_azure_limits() -> None:
    token = "x" * TOKEN_LENGTH
    names = {"resourceToken": token, "environmentName": "e" * 40}
    for name, call in main()["modules"].items():
        limits = NAME_LIMITS.get(Path(call["detail"]["path"]).name, {})
        for param, limit in limits.items():
            template = module_params(call).get(param)
            if not isinstance(template, str):
                continue
            longest = max((t["name"] for t in tools_table()), key=len)
            value = fill(template, **names, **{"tool.name": longest})
            assert len(value) <= limit, f"module {name}: {param} '{value}' is longer than {limit}"
            if limit == 24 and "storage" in param.lower() or "registry" in call["detail"]["path"]:
                assert re.fullmatch(r"[a-z0-9]+", value), f"module {name}: {param} '{value}' must be alphanumeric"


def test_main_deploys_every_registry_tool_as_its_own_container_app() -> None:
    table = {t["name"]: t for t in tools_table()}
    assert set(table) == set(tool_names()), f"main.bicep tools {sorted(table)} != registry {tool_names()}"
    for name, tool in table.items():
        assert tool["prefix"] == name.upper(), f"tool {name} has prefix {tool['prefix']}"
    call = main()["modules"]["toolApps"]
    assert call["detail"]["path"] == "modules/container-app.bicep"
    assert call["config"]["loop_type"]["detail"]["array_name"] == "tools"
    gateway = main_call("gatewayApp")
    assert gateway["serviceName"] == GATEWAY


def test_main_scales_each_service_on_its_own() -> None:
    defaults = main()["parameters"]["serviceScale"]["default"]
    for service in container_services():
        scale = defaults.get(service.name)
        assert scale, f"serviceScale has no entry for {service.name}"
        assert 0 <= scale["minReplicas"] <= scale["maxReplicas"], f"{service.name}: {scale}"
        assert scale["concurrentRequests"] > 0
    for tool in tools_table():
        if tool["stateful"]:
            assert defaults[tool["name"]]["maxReplicas"] == 1, f"{tool['name']} keeps SQLite on a share"


def test_container_app_has_an_http_concurrency_scale_rule_and_own_identity() -> None:
    module = parse(INFRA / "modules" / "container-app.bicep")
    app = module["resources"]["app"]["config"]
    rules = app["properties"]["template"]["scale"]["rules"]
    http = [r for r in rules if "http" in r]
    assert http and "concurrentRequests" in references(http[0]["http"]["metadata"])
    assert module["resources"]["identity"]["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"
    assert "azd-service-name" in json.dumps(app["tags"])
    assert app["properties"]["configuration"]["ingress"]["allowInsecure"] is False
    secrets = module["variables"]["secretRefs"]
    assert {"keyVaultUrl", "identity"} <= set(json.dumps(secrets) and _keys(secrets)), "secrets are not KV refs"


def _keys(node: Any) -> set[str]:
    return {k for item in walk(node) if isinstance(item, dict) for k in item}


def test_function_app_runs_on_flex_consumption_with_python_311() -> None:
    module = parse(INFRA / "modules" / "function-app.bicep")
    plan = module["resources"]["plan"]["config"]
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    site = module["resources"]["app"]["config"]["properties"]
    assert site["functionAppConfig"]["runtime"] == {"name": "python", "version": "3.11"}
    assert "python3.11" in (REPO_ROOT / "orchestrator" / "Dockerfile").read_text(), "image and Azure differ"
    assert "keyVaultReferenceIdentity" in site, "Key Vault references would use a missing system identity"
    storage = module["resources"]["storage"]["config"]["properties"]
    assert storage["allowSharedKeyAccess"] is False


def test_function_settings_are_allowed_on_flex_and_read_by_the_app() -> None:
    plain, secret = function_settings()
    names = plain | set(secret)
    assert not names & FLEX_FORBIDDEN, f"Flex Consumption rejects {sorted(names & FLEX_FORBIDDEN)}"
    registry = set().union(*(registry_settings(n) for n in tool_names()))
    read = settings_env_names("agent_loop.settings") | registry
    unknown = {n for n in names - read if not PLATFORM_SETTINGS.match(n)}
    assert not unknown, f"orchestrator settings nobody reads: {sorted(unknown)}"
    missing = registry - names
    assert not missing, f"the registry reads {sorted(missing)}, which the Function App does not set"


def test_function_secrets_are_key_vault_references_never_values() -> None:
    plain, secret = function_settings()
    leaked = {n for n in plain if SECRET_NAME.search(n) and not PLATFORM_SETTINGS.match(n)}
    assert not leaked, f"secret settings given as plain values: {sorted(leaked)}"
    assert set(secret.values()) <= vault_secrets(), "a setting references a secret the vault lacks"
    grant = main_call("functionApp")["secretNames"]["function"]["parameters"]
    per_tool = grant["arg_2"]["function"]["parameters"]["arg_2"]["detail"]["expression"]
    granted = {_secret_name(item) for item in grant["arg_1"]}
    granted |= {fill(per_tool, **{"t.name": t["name"]}) for t in tools_table()}
    assert set(secret.values()) <= granted, f"read without a grant: {sorted(set(secret.values()) - granted)}"


def test_function_urls_point_at_the_matching_tool_app() -> None:
    settings = main_call("functionSettings")["settings"]
    apps = {key: value for obj in literal_objects(settings) for key, value in obj.items() if key.endswith("_URL")}
    for index, tool in enumerate(tools_table()):
        url = apps.get(f"{tool['prefix']}_URL")
        assert url is not None, f"{tool['prefix']}_URL is not set"
        target = url["operator"]["operands"]["operand_1"]["operator"]["operands"]
        assert (target["operand_1"], target["operand_2"]) == ("toolApps", index), f"{tool['prefix']}_URL"


def _env_names(node: Any) -> set[str]:
    return {o["name"] for o in literal_objects(node) if "name" in o and "value" in o}


def container_app_env(service: str) -> set[str]:
    """Environment variable names the Bicep gives a Container App: plain and from Key Vault."""
    if service == GATEWAY:
        gateway = main_call("gatewayApp")
        return _env_names(gateway["env"]) | {o["envName"] for o in literal_objects(gateway["secrets"])}
    tool = next(t for t in tools_table() if t["name"] == service)
    call = main_call("toolApps")
    names = _env_names(tool["env"])
    names |= {fill(o["envName"], **{"tool.prefix": tool["prefix"]}) for o in literal_objects(call["secrets"])}
    concat = call["env"]["function"]["parameters"]
    assert concat["arg_1"]["operator"]["operands"] == {"operand_1": "tool", "operand_2": "env"}
    only_for = concat["arg_2"]["operator"]["operands"]
    condition = only_for["condition"]["operator"]["operands"]["operand_2"]["operator"]["operands"]
    assert condition["operand_1"] == "name", "the extra settings must be chosen by tool name"
    if condition["operand_2"] == service:
        names |= _env_names(only_for["true_value"])
    return names


@pytest.mark.parametrize("service", container_services(), ids=[s.name for s in container_services()])
def test_container_app_settings_are_read_by_the_service(service: Service) -> None:
    names = container_app_env(service.name)
    assert names, f"the {service.name} app gets no settings"
    unknown = names - settings_env_names(service.settings_module)
    assert not unknown, f"the {service.name} app sets {sorted(unknown)}, which {service.settings_module} never reads"


@pytest.mark.parametrize("service", container_services(), ids=[s.name for s in container_services()])
def test_compose_and_azure_give_a_service_the_same_settings(service: Service) -> None:
    compose = set(compose_environment(service.name))
    azure = container_app_env(service.name)
    assert compose == azure, (
        f"{service.name}: only in compose {sorted(compose - azure)}, only on Azure {sorted(azure - compose)}"
    )


def test_compose_and_azure_give_the_orchestrator_the_same_settings() -> None:
    plain, secret = function_settings()
    azure = {n for n in plain | set(secret) if not PLATFORM_SETTINGS.match(n)}
    compose = {n for n in compose_environment(ORCHESTRATOR) if not n.startswith("AzureWebJobs")}
    assert compose == azure, f"only in compose {sorted(compose - azure)}, only on Azure {sorted(azure - compose)}"


def test_the_event_channel_is_the_redis_cache_over_tls_from_the_vault() -> None:
    _, secret = function_settings()
    assert secret["TOOLMESH_EVENTS"] == module_secrets()["eventsRedis"]
    module = parse(INFRA / "modules" / "redis.bicep")
    cache = module["resources"]["cache"]["config"]["properties"]
    assert cache["enableNonSslPort"] is False and cache["minimumTlsVersion"] == "1.2"
    url = module["resources"]["urlSecret"]["config"]["properties"]["value"]
    assert url.startswith("rediss://:${uriComponent(") and "sslPort" in url, url
    assert not any("listKeys" in json.dumps(o) for o in module["outputs"].values()), "the key is an output"
    compose = compose_environment(ORCHESTRATOR)["TOOLMESH_EVENTS"] or ""
    assert compose.startswith("redis://:${EVENTS_REDIS_PASSWORD") and compose.endswith("@redis:6379/0")


def test_the_event_stream_is_served_without_http_streams_on_azure_and_in_compose() -> None:
    settings = main_call("functionSettings")["settings"]
    azure = next(o for o in literal_objects(settings) if "TOOLMESH_EVENTS_HTTP_STREAMS" in o)
    assert azure["TOOLMESH_EVENTS_HTTP_STREAMS"] == "false"
    assert compose_environment(ORCHESTRATOR)["TOOLMESH_EVENTS_HTTP_STREAMS"] == "false"
    assert "PYTHON_ENABLE_INIT_INDEXING" not in json.dumps(main()), "HTTP streams would change every route"


def test_every_referenced_secret_is_created_in_the_vault() -> None:
    secrets = vault_secrets()
    assert all(re.fullmatch(r"[0-9A-Za-z-]{1,127}", s) for s in secrets)
    used = {
        o["secretName"]
        for name in ("gatewayApp", "toolApps")
        for o in literal_objects(main_call(name))
        if "secretName" in o
    }
    expanded = {fill(s, **{"tool.name": t}) for s in used for t in tool_names()}
    assert expanded <= secrets, f"secrets used but never created: {sorted(expanded - secrets)}"


def test_parameters_file_sets_only_declared_parameters_and_every_required_one() -> None:
    declared = main()["parameters"]
    given = json.loads(PARAMETERS_FILE.read_text())["parameters"]
    assert set(given) <= set(declared), f"unknown parameters: {sorted(set(given) - set(declared))}"
    required = {n for n, d in declared.items() if d.get("default") is None}
    assert required <= set(given), f"required parameters not set: {sorted(required - set(given))}"
    for name, entry in given.items():
        value = str(entry["value"])
        if "secure" in decorators(declared[name]):
            assert value.startswith(("$(secretOrRandomPassword", "${")), f"{name} has a literal secret"


def test_parameters_file_keeps_each_deployed_image() -> None:
    given = json.loads(PARAMETERS_FILE.read_text())["parameters"]
    exists = main()["variables"]["exists"]["value"]
    for service in container_services():
        variable = f"SERVICE_{service.name.upper().replace('-', '_')}_RESOURCE_EXISTS"
        param = exists.get(service.name)
        assert isinstance(param, str) and param in given, f"no <service>Exists parameter for {service.name}"
        assert variable in given[param]["value"], f"{param} is not fed from azd's {variable}"


def test_readme_documents_every_main_parameter() -> None:
    readme = (INFRA / "README.md").read_text()
    missing = [name for name in main()["parameters"] if f"`{name}`" not in readme]
    assert not missing, f"infra/README.md does not document {missing}"


def test_azure_mailbox_accepts_the_orchestrators_callback_urls() -> None:
    """On Azure, TOOLMESH_PUBLIC_URL and the mailbox's allowed origin name the same Function App."""
    from agent_loop.callbacks import callback_url
    from tools.mailbox.callbacks import check_callback_url, parse_origins

    host = {"functionApp.outputs.defaultHostName": "func-x.azurewebsites.net"}
    settings = main_call("functionSettings")["settings"]
    public = next(o["TOOLMESH_PUBLIC_URL"] for o in literal_objects(settings) if "TOOLMESH_PUBLIC_URL" in o)
    only_for = main_call("toolApps")["env"]["function"]["parameters"]["arg_2"]["operator"]["operands"]
    origins = next(o["value"] for o in literal_objects(only_for["true_value"]) if o.get("name", "").endswith("ORIGINS"))
    url = callback_url(fill(public, **host), "secret", "run-1", "call-1")
    assert check_callback_url(url, parse_origins(fill(origins, **host))) == url


@pytest.mark.parametrize("path", bicep_files(), ids=FILE_IDS)
def test_bicep_resource_properties_exist_in_the_azure_rest_models(path: Path) -> None:
    """Every resource is checked against the REST model of exactly the API version it pins."""
    unmodelled = {"Microsoft.Resources/resourceGroups"}
    for name, resource in parse(path)["resources"].items():
        if resource.get("existing") or resource["type"] in unmodelled:
            continue
        assert resource["type"] in RESOURCE_MODELS, f"{path.name}: no REST model mapped for {resource['type']}"
        model, version = model_class(resource["type"], resource["api_version"])
        assert version == resource["api_version"], (
            f"{path.name}: {name} pins {resource['type']}@{resource['api_version']}, "
            f"but the installed SDK describes {version}; pin that version so the check is exact"
        )
        unknown = unknown_properties(resource_body(resource), model, f"{path.name}:{name}")
        assert not unknown, f"properties the {resource['type']} REST model does not define: {unknown}"


def test_stateful_tools_keep_their_database_on_the_mounted_share() -> None:
    for tool in tools_table():
        databases = {o["name"]: o["value"] for o in tool["env"] if o["name"].endswith("_DB")}
        assert bool(databases) == tool["stateful"], f"{tool['name']}: stateful flag and *_DB setting disagree"
        for name, value in databases.items():
            assert value.startswith("/data/"), f"{tool['name']}: {name}={value} is off the /data share"
            assert compose_environment(tool["name"]).get(name) == value, f"{name} differs from compose"


def test_every_service_sends_its_traces_to_application_insights_with_entra_auth() -> None:
    for call in (main_call("gatewayApp"), module_params(main()["modules"]["toolApps"])):
        assert "monitoring" in references(call["appInsightsName"]), "the app is not given Application Insights"
    module = parse(INFRA / "modules" / "container-app.bicep")
    telemetry = json.dumps(module["variables"]["telemetryEnv"])
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in telemetry
    assert "APPLICATIONINSIGHTS_AUTHENTICATION_STRING" in telemetry and "Authorization=AAD" in telemetry
    env = json.dumps(module["resources"]["app"]["config"]["properties"]["template"]["containers"])
    assert "telemetryEnv" in env, "the container never gets the telemetry settings"
    publish = module["resources"]["publish"]
    assert "metricsPublisherRoleId" in json.dumps(publish) and "identity" in references(publish)
