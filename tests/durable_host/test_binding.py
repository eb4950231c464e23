"""The durable client binding JSON and check-status payload (protocol §3.2), read by the real SDK."""

from __future__ import annotations

import json

from azure.durable_functions import DurableOrchestrationClient

from durable_host.binding import BindingContext, check_status_payload, client_binding_json

CTX = BindingContext(
    origin="http://127.0.0.1:7071",
    functions_key="k/ey+1",
    rpc_base_url="http://127.0.0.1:7071/durabletask-rpc/token/",
    hub_name="Hub",
)


def test_binding_has_the_fields_the_sdk_requires() -> None:
    binding = json.loads(client_binding_json(CTX))
    assert binding["taskHubName"] == "Hub"
    assert binding["rpcBaseUrl"] == CTX.rpc_base_url
    assert binding["baseUrl"] == "http://127.0.0.1:7071/runtime/webhooks/durabletask"
    assert binding["requiredQueryStringParameters"] == "code=k/ey%2B1"
    urls = binding["managementUrls"]
    assert urls["id"] == "INSTANCEID"
    assert urls["statusQueryGetUri"].startswith(binding["baseUrl"] + "/instances/INSTANCEID?taskHub=Hub")
    assert "{eventName}" in urls["sendEventPostUri"]
    assert set(binding["creationUrls"]) == {"createNewInstancePostUri", "createAndWaitOnNewInstancePostUri"}


def test_sdk_client_builds_check_status_payload_from_the_binding() -> None:
    client = DurableOrchestrationClient(client_binding_json(CTX))
    payload = client.create_http_management_payload("abc")
    # The binding's payload (HttpManagementPayload) has rewindPostUri; the host's own 202
    # check-status body (CreateCheckStatusResponseMessage) does not.
    assert "rewindPostUri" in payload and "rewindPostUri" not in check_status_payload(CTX, "abc")
    assert {k: v for k, v in payload.items() if k != "rewindPostUri"} == check_status_payload(CTX, "abc")
    assert payload["terminatePostUri"].startswith("http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/abc/")


def test_instance_ids_are_escaped_in_urls() -> None:
    payload = check_status_payload(CTX, "a b")
    assert "/instances/a%20b?" in payload["statusQueryGetUri"]
