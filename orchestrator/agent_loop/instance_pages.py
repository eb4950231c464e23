"""Every instance a status query matches, page after page.

The durable client's ``get_status_by`` reads the first page of the Durable HTTP API's instance
query only (100 instances on Azure and on the local host) and never sends the continuation
token back; ``get_status_all`` is the same query unfiltered. Delivering an outside event must
see every waiting run, and the run list every run, so this reads the same API the client speaks
(the binding's ``rpcBaseUrl``) and follows ``x-ms-continuation-token`` until the last page, with
large pages and inputs left out unless asked for.
"""

from __future__ import annotations

import asyncio
from typing import Any

import azure.durable_functions as df
import httpx

__all__ = ["PAGE_SIZE", "all_instances"]

PAGE_SIZE = 1000
CONTINUATION = "x-ms-continuation-token"
MAX_PAGES = 1000
GET_ATTEMPTS = 3
GET_PAUSE_SECONDS = 0.5


def _rpc_base_url(client: df.DurableOrchestrationClient) -> str:
    # The binding the host gave this function: the same base URL every client call goes to.
    bindings = getattr(client, "_orchestration_bindings", None)
    base = getattr(bindings, "rpc_base_url", None)
    if not base:
        raise RuntimeError("the durable client binding has no rpcBaseUrl; instance queries need it")
    return str(base)


async def _get(http: httpx.AsyncClient, url: str, params: dict[str, str], headers: dict[str, str]) -> httpx.Response:
    # A busy host may drop a connection: a read is safe to send again, a few times.
    for attempt in range(1, GET_ATTEMPTS + 1):
        try:
            return await http.get(url, params=params, headers=headers)
        except (httpx.NetworkError, httpx.RemoteProtocolError):
            if attempt == GET_ATTEMPTS:
                raise
            await asyncio.sleep(GET_PAUSE_SECONDS * attempt)
    raise AssertionError("unreachable")


async def all_instances(
    client: df.DurableOrchestrationClient,
    *,
    runtime_status: list[str] | None = None,
    prefix: str | None = None,
    show_input: bool = False,
) -> list[dict[str, Any]]:
    """The matching instances as the HTTP API shows them (instanceId, name, runtimeStatus, customStatus...).

    No ``runtime_status`` (or an empty one) matches every status.
    """
    bindings = getattr(client, "_orchestration_bindings", None)
    params = {
        "showInput": "true" if show_input else "false",
        "top": str(PAGE_SIZE),
        "taskHub": str(getattr(bindings, "task_hub_name", "") or ""),
        "connectionName": str(getattr(bindings, "connection_name", "") or "Storage"),
    }
    if runtime_status:
        params["runtimeStatus"] = ",".join(runtime_status)
    if prefix:
        params["instanceIdPrefix"] = prefix
    found: list[dict[str, Any]] = []
    token = ""
    async with httpx.AsyncClient(timeout=60) as http:
        for _ in range(MAX_PAGES):
            response = await _get(
                http, f"{_rpc_base_url(client)}instances/", params, {CONTINUATION: token} if token else {}
            )
            response.raise_for_status()
            page = response.json()
            found.extend(item for item in page if isinstance(item, dict))
            token = response.headers.get(CONTINUATION) or ""
            if not token or not page:
                break
    return found
