"""Manages an instance through the SDK's client; its entry point is not ``main``, and it answers
through a named ``http`` out binding (``message``) instead of its return value."""

import azure.durable_functions as df
import azure.functions as func

from tests.durable_host.apps import pattern_logic as logic


async def manage(req: func.HttpRequest, starter: str, message: func.Out[func.HttpResponse]) -> None:
    message.set(await logic.manage(req, df.DurableOrchestrationClient(starter)))
