"""Manages an instance through the SDK's client; its entry point is not ``main``."""

import azure.durable_functions as df
import azure.functions as func

from tests.durable_host.apps import pattern_logic as logic


async def manage(req: func.HttpRequest, starter: str) -> func.HttpResponse:
    return await logic.manage(req, df.DurableOrchestrationClient(starter))
