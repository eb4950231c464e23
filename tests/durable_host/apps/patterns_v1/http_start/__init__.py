"""Starts an orchestration: the durable client binding arrives as JSON text (v1 model)."""

import azure.durable_functions as df
import azure.functions as func

from tests.durable_host.apps import pattern_logic as logic


async def main(req: func.HttpRequest, starter: str) -> func.HttpResponse:
    return await logic.start(req, df.DurableOrchestrationClient(starter))
