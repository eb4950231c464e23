"""``GET /v1/models``: the aliases this gateway serves, with offline ones labelled as such."""

from __future__ import annotations

from fastapi import APIRouter, Request

from llm_gateway.dependencies import Client, gateway_state
from llm_gateway.errors import ModelNotFound
from llm_gateway.routing import Route
from llm_gateway.schemas import ErrorBody, ModelCard, ModelList

__all__ = ["router"]

router = APIRouter(tags=["models"])


def _card(route: Route) -> ModelCard:
    first = route.providers[0]
    owner = "toolmesh-offline" if first.offline else f"toolmesh:{first.kind}"
    description = route.description or (
        "Deterministic offline model (no network, no language model)" if first.offline else ""
    )
    return ModelCard(
        id=route.alias,
        owned_by=owner,
        offline=first.offline,
        description=description,
        providers=[p.kind for p in route.providers],
    )


@router.get(
    "/v1/models",
    operation_id="listModels",
    summary="List model aliases",
    response_model=ModelList,
    responses={401: {"model": ErrorBody, "description": "Missing or unknown API key."}},
)
async def list_models(request: Request, client: Client) -> ModelList:
    routes = gateway_state(request).router.routes
    return ModelList(data=[_card(route) for route in routes.values()])


@router.get(
    "/v1/models/{model}",
    operation_id="getModel",
    summary="Describe one model alias",
    response_model=ModelCard,
    responses={
        401: {"model": ErrorBody, "description": "Missing or unknown API key."},
        404: {"model": ErrorBody, "description": "Unknown model alias."},
    },
)
async def get_model(model: str, request: Request, client: Client) -> ModelCard:
    route = gateway_state(request).router.routes.get(model)
    if route is None:
        raise ModelNotFound(model)
    return _card(route)
