"""The agents API: ``GET /api/agents`` shows the agents and networks a run may name, and each bad entry."""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from .agent_setup import unknown
from .agents import load_agent_config
from .http_responses import json_response
from .run_request import RunRequest
from .settings import get_settings

__all__ = ["agent_problem", "bp"]

bp = df.Blueprint(http_auth_level=func.AuthLevel.FUNCTION)


def agent_problem(request: RunRequest) -> tuple[str, str] | None:
    """(field, message) when the run names an agent or network the agents file cannot give it."""
    if request.agent is None and request.network is None:
        return None
    config = load_agent_config(get_settings().agents_path)
    if request.agent is not None and request.agent not in config.agents:
        return "agent", unknown(config, "agent", request.agent)
    if request.network is not None and request.network not in config.networks:
        return "network", unknown(config, "network", request.network)
    return None


@bp.route(route="api/agents", methods=["GET"])
def list_agents(req: func.HttpRequest) -> func.HttpResponse:
    """The agents file as the next run will read it."""
    return json_response(load_agent_config(get_settings().agents_path).to_dict())
