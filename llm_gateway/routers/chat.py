"""``POST /v1/chat/completions``: OpenAI's chat API in front of every configured model.

Non-streamed answers pass through as the provider's bytes. Streams are relayed event by event
as they arrive (no buffering, ``X-Accel-Buffering: no``); the upstream is always asked for the
usage chunk so usage can be logged, and that chunk is forwarded only if the client asked for
it. A failure after the stream started reaches the client as an in-band error event and the
stream ends without ``[DONE]``, never as a silent normal end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from llm_gateway.accounting import CLIENT_CLOSED, Outcome, read_timeout
from llm_gateway.adapters.sse import error_event, event_usage, is_usage_only, split_events, with_usage_cost
from llm_gateway.adapters.sse_response import SSEResponse
from llm_gateway.dependencies import Client, gateway_state, read_json_object, validate_body
from llm_gateway.errors import GatewayError, UpstreamError
from llm_gateway.providers.base import Provider, Usage
from llm_gateway.routing import OpenedStream
from llm_gateway.schemas import ChatCompletionRequest, ErrorBody

__all__ = ["prompt_estimate", "router"]

_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
router = APIRouter(tags=["chat"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Malformed JSON or an invalid parameter (named in `error.param`)."),
        (401, "Missing or unknown API key."),
        (404, "Unknown model alias."),
        (429, "Over the key's requests or tokens per minute (see Retry-After), or upstream rate limited."),
        (502, "The model provider failed after retries and fallbacks."),
        (504, "The model provider did not answer in time."),
    )
}


def prompt_estimate(body: dict[str, Any]) -> int:
    """Tokens a request will use at least, for the per-minute token limit (about 4 chars per token)."""
    size = 0
    for message in body.get("messages") or []:
        content = message.get("content") if isinstance(message, dict) else None
        size += len(content) if isinstance(content, str) else 16
    return max(1, size // 4)


def _take_usage(blob: bytes, include_usage: bool, provider: Provider) -> tuple[bytes, Usage | None]:
    """The usage in a blob of events, and the blob without the usage-only chunk unless it was asked for.

    A usage chunk that is passed on gets the request's cost in its usage (``cost_usd``), which a
    plain answer carries in the ``x-toolmesh-cost-usd`` header, sent before a stream's end is known.
    """
    usage: Usage | None = None
    kept: list[bytes] = []
    for event in split_events(blob):
        found = event_usage(event)
        if found is not None:
            usage = found
            if is_usage_only(event):
                if not include_usage:
                    continue
                event = with_usage_cost(event, provider.price.cost(found) if provider.price else 0.0)
        kept.append(event)
    return b"".join(kept), usage


async def _relay(
    opened: OpenedStream,
    outcome: Outcome,
    provider: Provider,
    attempts: int,
    include_usage: bool,
) -> AsyncIterator[bytes]:
    rest = opened.rest
    usage: Usage | None = None
    chunks = 0
    status = 200
    error: str | None = None
    try:
        blob = opened.first
        while True:
            if b'"usage"' in blob:
                blob, found = _take_usage(blob, include_usage, provider)
                if found is not None:
                    usage = replace(found, estimated=True) if provider.offline else found
            if blob:
                chunks += blob.count(b"\n\n")
                yield blob
            blob = await anext(rest)
    except StopAsyncIteration:
        pass
    except (asyncio.CancelledError, GeneratorExit):
        status, error = CLIENT_CLOSED, "client closed the stream"
        raise
    except UpstreamError as exc:
        status, error = exc.status_code, exc.message
        yield error_event(exc)
    except Exception as exc:  # noqa: BLE001 - any failure must reach the client as an error event
        status, error = 502, f"{type(exc).__name__}: {exc}"
        yield error_event(UpstreamError(f"stream failed: {error}"))
    finally:
        closer = getattr(rest, "aclose", None)
        if closer is not None:
            await closer()
        if usage is None:
            usage = Usage(completion_tokens=chunks, estimated=True)
        outcome.finish(status=status, usage=usage, provider=provider, attempts=attempts, error=error)


@router.post(
    "/v1/chat/completions",
    operation_id="createChatCompletion",
    summary="Create a chat completion",
    description="OpenAI-compatible chat completion with tools, JSON mode and SSE streaming. `model` is an "
    "alias configured in the gateway (`default` always exists). Send `X-Toolmesh-Run-Id` to attribute usage "
    "to a run.",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatCompletionRequest"}}},
        }
    },
    responses={
        200: {
            "description": "A chat.completion object, or an SSE stream of chat.completion.chunk "
            "events ending with `data: [DONE]` when `stream` is true.",
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "text/event-stream": {"schema": {"type": "string"}},
            },
        },
        **_ERRORS,
    },
)
async def create_chat_completion(request: Request, client: Client) -> Response:
    state = gateway_state(request)
    body = await read_json_object(request)
    validate_body(ChatCompletionRequest, body)
    alias: str = body["model"]
    state.router.route(alias)
    timeout = read_timeout(request)
    stream = bool(body.get("stream"))
    outcome = Outcome(
        state=state,
        client=client,
        request=request,
        alias=alias,
        endpoint="chat",
        stream=stream,
        logged={"messages": body.get("messages")} if state.log_prompts else None,
    )
    state.limiter.admit(client, prompt_estimate(body))
    try:
        if stream:
            options = body.get("stream_options")
            include_usage = isinstance(options, dict) and options.get("include_usage") is True
            opened = await state.router.stream(alias, body, timeout=timeout)
            headers = {
                **_STREAM_HEADERS,
                "x-toolmesh-deployment": opened.provider.label,
                "x-toolmesh-attempts": str(opened.attempts),
            }
            return SSEResponse(
                _relay(
                    opened.value,
                    outcome,
                    opened.provider,
                    opened.attempts,
                    include_usage,
                ),
                keepalive=state.config.stream_keepalive,
                media_type="text/event-stream",
                headers=headers,
            )
        answer = await state.router.complete(alias, body, timeout=timeout)
    except GatewayError as exc:
        outcome.finish(status=exc.status_code, usage=None, provider=None, attempts=0, error=exc.message)
        raise
    cost = outcome.finish(
        status=200,
        usage=answer.value.usage,
        provider=answer.provider,
        attempts=answer.attempts,
        extra={"answer": answer.value.body[:4000].decode(errors="replace")} if state.log_prompts else None,
    )
    return Response(
        answer.value.body,
        media_type="application/json",
        headers={
            "x-toolmesh-deployment": answer.provider.label,
            "x-toolmesh-attempts": str(answer.attempts),
            # Exactly the usage log's figure, so a run's cost adds up to the log's.
            "x-toolmesh-cost-usd": repr(cost),
        },
    )
