# mypy: allow-untyped-decorators
"""The documented patterns in the v2 programming model (test fixture).

The function app is deliberately not called ``app``: the host finds the one top-level function
app whatever its name, as the Python worker does.
"""

import azure.durable_functions as df
import azure.functions as func

from tests.durable_host.apps import pattern_logic as logic

durable_app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@durable_app.route(route="orchestrators/{functionName}/{instanceId?}", methods=["POST"])
@durable_app.durable_client_input(client_name="client")
async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await logic.start(req, client)


@durable_app.route(route="instances/{instanceId}/{operation}", methods=["POST", "GET"])
@durable_app.durable_client_input(client_name="client")
async def http_manage(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    return await logic.manage(req, client)


for name, activity in (
    ("name", logic.say_hello),
    ("value", logic.double),
    ("check", logic.check_job),
    ("request", logic.request_approval),
):
    durable_app.activity_trigger(input_name=name)(activity)

for orchestrator in (
    logic.chaining,
    logic.fan_out_fan_in,
    logic.approval,
    logic.monitor,
    logic.sub_orchestrations,
    logic.eternal,
    logic.wait_for_go,
    logic.crash,
):
    durable_app.orchestration_trigger(context_name="context")(orchestrator)
