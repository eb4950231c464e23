"""The durable client binding JSON and the check-status payload (protocol §3.2).

The management URLs carry the functions key as ``code=``, as on Azure; ``rpcBaseUrl`` is the
per-process loopback path the SDK uses for its own calls, which carries no key but is only
served to loopback clients and cannot be guessed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

__all__ = ["BindingContext", "check_status_payload", "client_binding_json"]

INSTANCE_PLACEHOLDER = "INSTANCEID"


@dataclass(frozen=True, kw_only=True)
class BindingContext:
    """What the binding needs: the public origin, the key, the RPC base URL and the hub name."""

    origin: str
    functions_key: str
    rpc_base_url: str
    hub_name: str

    @property
    def base_url(self) -> str:
        return f"{self.origin}/runtime/webhooks/durabletask"

    @property
    def common_query(self) -> str:
        return f"taskHub={quote(self.hub_name)}&connection=Storage&code={quote(self.functions_key)}"


def _management_urls(ctx: BindingContext, instance_id: str) -> dict[str, str]:
    quoted = instance_id if instance_id == INSTANCE_PLACEHOLDER else quote(instance_id, safe="")
    base = f"{ctx.base_url}/instances/{quoted}"
    query = ctx.common_query
    return {
        "id": instance_id,
        "statusQueryGetUri": f"{base}?{query}",
        "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{base}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{base}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{base}?{query}",
        "restartPostUri": f"{base}/restart?{query}",
        "suspendPostUri": f"{base}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{base}/resume?reason={{text}}&{query}",
    }


def check_status_payload(ctx: BindingContext, instance_id: str) -> dict[str, str]:
    """The body of a 202 check-status response for ``instance_id``.

    As the real host's ``CreateCheckStatusResponseMessage`` writes it (HttpApiHandler.cs): the
    management URLs without ``rewindPostUri``, which only the binding's payload carries.
    """
    urls = _management_urls(ctx, instance_id)
    del urls["rewindPostUri"]
    return urls


def client_binding_json(ctx: BindingContext) -> str:
    """The JSON string the SDK's ``DurableOrchestrationClient`` is built from."""
    query = ctx.common_query
    creation = f"{ctx.base_url}/orchestrators/{{functionName}}[/{{instanceId}}]"
    return json.dumps(
        {
            "taskHubName": ctx.hub_name,
            "connectionName": "Storage",
            "creationUrls": {
                "createNewInstancePostUri": f"{creation}?{query}",
                "createAndWaitOnNewInstancePostUri": (
                    f"{creation}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&{query}"
                ),
            },
            "managementUrls": _management_urls(ctx, INSTANCE_PLACEHOLDER),
            "baseUrl": ctx.base_url,
            "requiredQueryStringParameters": f"code={quote(ctx.functions_key)}",
            "rpcBaseUrl": ctx.rpc_base_url,
            "httpBaseUrl": None,
        }
    )
