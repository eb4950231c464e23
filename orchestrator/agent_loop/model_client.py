"""The model step's call to the gateway: one chat completion in the OpenAI wire format.

The gateway speaks OpenAI's chat-completions API (``POST /v1/chat/completions``, described in
its own OpenAPI spec) and holds every provider key, so the activity needs nothing but a JSON
POST, and it keeps only a few fields of the answer. On a busy host the openai SDK's request
shaping and response models cost more CPU than the call itself, and httpx's connection pool
scans every connection for every request (quadratic when hundreds of model steps wait at once),
so the call goes through aiohttp (already the Durable SDK's own HTTP client), whose connector
hands out connections in constant time. Transient answers (408, 409, 429, 5xx, a dropped
connection, a timeout) are retried with backoff and jitter, honouring ``Retry-After``; when the
last try still finds the gateway away (no connection, a timeout, 408, 429, 503, 504) the error is
``DependencyAway``, which the run answers by waiting durably and trying again. What the
gateway charged for the step (its ``x-toolmesh-cost-usd`` header) is kept as ``cost_usd``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from .errors import DependencyAway, ModelStepError
from .model_stream import BrokenStream, NotACompletion, StepListener, assemble_stream
from .settings import Settings

__all__ = ["COST_HEADER", "RETRYABLE_STATUSES", "chat_completion"]

COST_HEADER = "x-toolmesh-cost-usd"

RETRYABLE_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
AWAY_STATUSES = frozenset({408, 429, 503, 504})
RETRY_BASE_SECONDS = 0.5
RETRY_MAX_SECONDS = 8.0
MAX_RETRY_AFTER_SECONDS = 60.0
END_OF_BODY_SECONDS = 0.5
"""How long a streamed answer's end (after ``[DONE]``) is waited for, to keep its connection."""


def _retry_after(headers: CIMultiDictProxy[str]) -> float | None:
    value = headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds <= MAX_RETRY_AFTER_SECONDS else None


def _cost(headers: CIMultiDictProxy[str]) -> float:
    try:
        return max(0.0, float(headers.get(COST_HEADER) or 0.0))
    except ValueError:
        return 0.0


async def _read_to_end(answer: aiohttp.ClientResponse) -> None:
    """Read what is left of a streamed answer after its ``[DONE]`` event: the chunked body's end.

    The gateway writes that end just after the last event, and it may arrive a moment later. A
    response left unread is closed rather than pooled, so without this every streamed model step
    would open a new connection to the gateway. An answer that does not end soon is left to close.
    """
    with contextlib.suppress(TimeoutError, aiohttp.ClientError):
        async with asyncio.timeout(END_OF_BODY_SECONDS):
            while await answer.content.readany():
                pass


def _message(text: str, reason: str | None) -> str:
    try:
        error = json.loads(text).get("error")
    except (ValueError, AttributeError):
        error = None
    if isinstance(error, dict) and error.get("message"):
        return str(error["message"])[:500]
    return text[:500] or reason or "no reason given"


async def chat_completion(
    session: aiohttp.ClientSession,
    settings: Settings,
    step: str,
    body: dict[str, Any],
    headers: dict[str, str],
    listener: StepListener | None = None,
) -> dict[str, Any]:
    """POST one chat completion; the parsed JSON, or ModelStepError saying what went wrong.

    With a ``listener`` the completion is streamed (usage and cost come in its last chunk) and
    the listener hears its pieces as they arrive; the result is the same completion body.
    """
    if listener is not None:
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
    url = settings.llm_gateway_url.rstrip("/") + "/v1/chat/completions"
    sent = {"Authorization": f"Bearer {settings.gateway_key}", **headers} if settings.gateway_key else headers
    timeout = aiohttp.ClientTimeout(total=settings.llm_timeout_seconds)
    attempts = settings.llm_max_retries + 1
    for attempt in range(attempts):
        last = attempt == attempts - 1
        wait: float | None = None
        cost = 0.0
        try:
            async with session.post(url, json=body, headers=sent, timeout=timeout, allow_redirects=False) as answer:
                status, reason = answer.status, answer.reason
                wait, cost = _retry_after(answer.headers), _cost(answer.headers)
                if listener is not None and 200 <= status < 300:
                    completion = await assemble_stream(answer.content.iter_any(), listener)
                    await _read_to_end(answer)
                    return completion
                text = await answer.text()
        except TimeoutError:
            if last:
                waited = settings.llm_timeout_seconds
                raise DependencyAway(step, f"the gateway did not answer within {waited:g} s") from None
            status = None
        except aiohttp.ClientError as exc:
            if last:
                raise DependencyAway(step, f"could not reach the gateway ({type(exc).__name__})") from None
            status = None
        except NotACompletion as exc:
            raise ModelStepError(step, f"the gateway's answer is not a chat completion: {exc}") from None
        except BrokenStream as exc:
            if last:
                raise ModelStepError(step, f"the gateway's stream broke off: {exc}") from None
            status = None
        finally:
            if listener is not None:
                await listener.close()
        if status is not None and 200 <= status < 300:
            try:
                data = json.loads(text)
            except ValueError:
                raise ModelStepError(step, "the gateway's answer is not JSON") from None
            if not isinstance(data, dict):
                raise ModelStepError(step, "the gateway's answer is not a JSON object")
            data["cost_usd"] = cost
            return data
        if status is not None and (last or status not in RETRYABLE_STATUSES):
            error = DependencyAway if status in AWAY_STATUSES else ModelStepError
            raise error(step, f"the gateway answered {status}: {_message(text, reason)}")
        if wait is None:
            wait = random.uniform(0, min(RETRY_MAX_SECONDS, RETRY_BASE_SECONDS * 2**attempt))
        await asyncio.sleep(wait)
    raise AssertionError("unreachable: the last attempt returns or raises")
