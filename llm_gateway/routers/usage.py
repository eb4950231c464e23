"""``GET /v1/usage``: the usage log, for the calling key (every key when the gateway runs open)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from llm_gateway.dependencies import Client, gateway_state
from llm_gateway.schemas import ErrorBody, GroupBy, UsageList

__all__ = ["router"]

router = APIRouter(tags=["usage"])


@router.get(
    "/v1/usage",
    operation_id="getUsage",
    summary="Read the usage log",
    response_model=UsageList,
    description="Token usage per request, newest first, with totals over every matching request. "
    "Filter by the run id sent as `X-Toolmesh-Run-Id`.",
    responses={
        400: {"model": ErrorBody, "description": "Invalid query parameter."},
        401: {"model": ErrorBody, "description": "Missing or unknown API key."},
    },
)
async def get_usage(
    request: Request,
    client: Client,
    run_id: Annotated[str | None, Query(max_length=200, description="Only this run's requests.")] = None,
    since: Annotated[float | None, Query(ge=0, description="Only requests at or after this Unix time.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many records.")] = 100,
    group_by: Annotated[GroupBy | None, Query(description="Also sum tokens per model, key, run or deployment.")] = None,
) -> UsageList:
    state = gateway_state(request)
    key = None if state.keys.open else client.name
    return await state.usage.query(key=key, run_id=run_id, since=since, limit=limit, group_by=group_by)
