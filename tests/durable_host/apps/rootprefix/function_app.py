# mypy: allow-untyped-decorators
"""A minimal app served at the root route prefix (test fixture)."""

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="api/runs", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_run(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new("greet", None, req.get_json())
    response: func.HttpResponse = client.create_check_status_response(req, instance_id)
    return response


@app.route(route="client-failure/{instanceId}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def client_failure(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """A durable-client call that fails the way aiohttp reports a failed status: with its URL.

    The URL is the RPC path (its token) with the management URLs' query (the functions key).
    """
    import aiohttp

    bindings = getattr(client, "_orchestration_bindings")  # noqa: B009 - the SDK keeps both private
    query = bindings.management_urls["statusQueryGetUri"].split("?", 1)[1]
    url = f"{bindings.rpc_base_url}instances/{req.route_params['instanceId']}?{query}"
    async with aiohttp.ClientSession() as session, session.get(url, raise_for_status=True):
        pass
    return func.HttpResponse("unreachable")


@app.route(route="console", methods=["GET"])
def console(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("<html>console</html>", mimetype="text/html")


@app.orchestration_trigger(context_name="context")
def greet(context: df.DurableOrchestrationContext):
    name = context.get_input()["name"]
    return (yield context.call_activity("say", name))


@app.activity_trigger(input_name="name")
def say(name: str) -> str:
    return f"hi {name}"


@app.route(route="settings/{name}", methods=["GET"])
def setting(req: func.HttpRequest) -> func.HttpResponse:
    import os

    return func.HttpResponse(os.environ.get(req.route_params["name"], "<unset>"))


@app.route(route="whoami", methods=["GET"])
def whoami(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return func.HttpResponse(f"{context.function_name} {bool(context.invocation_id)}")
