"""Liveness probe: no auth, no database work, so orchestration can poll it freely."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    operation_id="healthCheck",
    summary="Check that the service is up",
    description="Answers 200 while the service runs; it needs no API key and touches no data.",
    openapi_extra={"security": []},
)
def health() -> dict[str, str]:
    return {"status": "ok"}
