"""``POST /v1/embeddings``: OpenAI's embeddings API through the same aliases, retries and limits."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from llm_gateway.accounting import Outcome, read_timeout
from llm_gateway.adapters.completions import estimate_tokens
from llm_gateway.dependencies import Client, gateway_state, read_json_object, validate_body
from llm_gateway.errors import GatewayError
from llm_gateway.schemas import EmbeddingRequest, ErrorBody

__all__ = ["router"]

router = APIRouter(tags=["embeddings"])


@router.post(
    "/v1/embeddings",
    operation_id="createEmbedding",
    summary="Create embeddings",
    description="OpenAI-compatible embeddings for a string or a list of strings. Offline and scripted "
    "aliases return deterministic hashed bag-of-words vectors "
    "(64 dimensions).",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EmbeddingRequest"}}},
        }
    },
    responses={
        200: {
            "description": "A list of embedding objects with usage.",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
        400: {"model": ErrorBody, "description": "Invalid request."},
        401: {"model": ErrorBody, "description": "Missing or unknown API key."},
        404: {"model": ErrorBody, "description": "Unknown model alias."},
        429: {"model": ErrorBody, "description": "Rate limited."},
        502: {"model": ErrorBody, "description": "Provider failure."},
    },
)
async def create_embedding(request: Request, client: Client) -> Response:
    state = gateway_state(request)
    body = await read_json_object(request)
    validate_body(EmbeddingRequest, body)
    alias: str = body["model"]
    state.router.route(alias)
    timeout = read_timeout(request)
    state.limiter.admit(client, estimate_tokens(body.get("input")))
    outcome = Outcome(state=state, client=client, request=request, alias=alias, endpoint="embeddings", stream=False)
    try:
        answer = await state.router.embed(alias, body, timeout=timeout)
    except GatewayError as exc:
        outcome.finish(status=exc.status_code, usage=None, provider=None, attempts=0, error=exc.message)
        raise
    outcome.finish(status=200, usage=answer.value.usage, provider=answer.provider, attempts=answer.attempts)
    return Response(
        answer.value.body,
        media_type="application/json",
        headers={"x-toolmesh-deployment": answer.provider.label},
    )
