"""Liveness and readiness: ``/healthz`` answers while the process runs; ``/readyz`` checks its parts."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from llm_gateway.dependencies import gateway_state
from llm_gateway.schemas import Health

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz", summary="Liveness", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="Readiness",
    response_model=Health,
    responses={503: {"model": Health, "description": "A part is not ready."}},
)
async def readyz(request: Request) -> JSONResponse:
    state = gateway_state(request)
    checks: dict[str, str] = {}
    try:
        await state.usage.query(limit=1)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - readiness reports any failure
        checks["database"] = f"error: {type(exc).__name__}"
    checks["auth"] = "open (TOOLMESH_GATEWAY_OPEN)" if state.keys.open else "keys"
    for alias, route in state.router.routes.items():
        notes = await asyncio.gather(*(p.ready() for p in route.providers))
        offline = " (offline)" if route.providers[0].offline else ""
        checks[f"model:{alias}"] = ("ok" if all(n == "ok" for n in notes) else "; ".join(notes)) + offline
    ready = checks["database"] == "ok"
    health = Health(status="ok" if ready else "unready", checks=checks)
    return JSONResponse(health.model_dump(), status_code=200 if ready else 503)
