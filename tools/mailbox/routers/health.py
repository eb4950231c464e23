"""Liveness probe: no auth, no database work, so orchestration can poll it freely."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    operation_id="healthCheck",
    summary="Check that the service is up",
    openapi_extra={"security": []},
)
def health() -> dict[str, str]:
    return {"status": "ok"}
