"""A fake OpenAI-compatible upstream for tests and benchmarks.

Run it as ``uvicorn tests.support.fake_openai:app`` (or with ``start_uvicorn``). It answers
``POST /v1/chat/completions`` (plain JSON and SSE), ``POST /v1/embeddings`` and ``GET /v1/models``,
plus the Azure OpenAI shapes ``/openai/deployments/{deployment}/...?api-version=`` and ``/openai/v1/...``.

Behaviour is chosen by the request's ``model`` so that a gateway deployment can point at a
misbehaving upstream simply by naming a model. The model is ``name`` optionally followed by
``?directive=value&...``:

``latency_ms=N``        wait N ms before answering (default ``FAKE_OPENAI_LATENCY_MS``, else 0)
``error=S``             answer with HTTP status S and an OpenAI error body
``retry_after=N``       with ``error``: add ``Retry-After: N``
``fail_times=N``        with ``error``: only the first N requests for this exact model string fail
``midstream=N``         streams: drop the connection after N content (or tool-call argument) chunks
``midstream_error=N``   streams: after N content (or tool-call argument) chunks send an in-band
                        ``{"error": ...}`` event, no [DONE]
``fail_times=N``        with ``midstream`` or ``midstream_error``: only the first N streams for this exact
                        model string break off
``tools=1``             answer with one tool call per offered tool (parallel calls), args from schemas
``tools=first``         as ``tools=1``, but only while the conversation holds no tool result yet
``args=object``         tool calls carry ``arguments`` as a JSON object, not JSON text (some servers do)
``content=parts``       ``content`` is a list of text parts, not a string (some servers do)
``malformed=S``         answer 200 with a body that is not a chat completion: ``choices`` (not a list),
                        ``message`` (no message), ``content`` (content an object), ``json`` (not JSON);
                        a stream sends one well-formed chunk, then one of that shape (``message``: the
                        delta is a list), then [DONE]
``reply=text``          the assistant text (default: ``fake reply #<n>: <last user text>``)
``chunks=N``            number of content chunks in a stream (default 4)
``gap_ms=N``            pause between content chunks of a stream (default 0)
``stamp=1``             streams: each content chunk is ``[<time.time() when sent>]`` (to measure delivery latency)
``paced=1``             plain answers: wait as long as the stream would have taken (``chunks`` x ``gap_ms``),
                        as a model takes as long to write an answer whether it streams it or not
``hold_after=N``        streams: after N content chunks wait until ``POST /_control/release`` (once released,
                        later streams do not wait), so a test can look while a stream is half sent
``linger_ms=N``         streams: keep the response open N ms after ``[DONE]`` before ending it

``args`` and ``content`` shape plain JSON answers, not streams.

``x-fake-latency-ms`` as a request header also sets the latency. Without ``FAKE_OPENAI_API_KEY``
any bearer key is accepted; with it, others get 401. ``GET /_control/requests`` lists what was
received (path, headers, body, and the client port, which tells connections apart), ``POST
/_control/reset`` clears that log, the fail counters and a release.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from llm_gateway.gc_tuning import tune_garbage_collector


@asynccontextmanager
async def _lifespan(_: FastAPI) -> AsyncIterator[None]:
    # Tuned as the gateway is: the fake stands in for a remote model, yet shares the cores.
    tune_garbage_collector()
    yield


app = FastAPI(title="fake-openai", lifespan=_lifespan)

_REQUESTS: list[dict[str, Any]] = []
_FAIL_COUNTS: dict[str, int] = {}
_COUNTER = [0]
_RELEASED = asyncio.Event()
_RECORD = os.environ.get("FAKE_OPENAI_RECORD", "1") != "0"
_DEFAULT_LATENCY_MS = float(os.environ.get("FAKE_OPENAI_LATENCY_MS", "0") or 0)
_REQUIRED_KEY = os.environ.get("FAKE_OPENAI_API_KEY", "")


def _directives(model: str) -> tuple[str, dict[str, str]]:
    name, _, query = model.partition("?")
    return name, dict(parse_qsl(query))


def _error(status: int, message: str, *, retry_after: str | None = None, code: str | None = None) -> Response:
    kind = {
        400: "invalid_request_error",
        401: "invalid_request_error",
        404: "invalid_request_error",
        429: "rate_limit_exceeded",
    }.get(status, "server_error")
    headers = {"retry-after": retry_after} if retry_after is not None else None
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _message_text(messages: list[Any]) -> str:
    parts: list[str] = []
    for message in messages:
        if isinstance(message, dict):
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return " ".join(parts)


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user" and isinstance(message.get("content"), str):
            return str(message["content"])
    return ""


def _fake_arguments(parameters: Any) -> str:
    """Fill every property of a JSON schema with a plain value of its type."""
    args: dict[str, Any] = {}
    props = parameters.get("properties", {}) if isinstance(parameters, dict) else {}
    for name, schema in props.items():
        kind = schema.get("type") if isinstance(schema, dict) else None
        if isinstance(schema, dict) and schema.get("enum"):
            args[name] = schema["enum"][0]
        elif kind in ("integer", "number"):
            args[name] = 1
        elif kind == "boolean":
            args[name] = False
        elif kind == "array":
            args[name] = []
        elif kind == "object":
            args[name] = {}
        else:
            args[name] = "Paris" if name == "city" else f"fake {name}"
    return json.dumps(args)


ASKS_PEOPLE = "ask_people"
"""The run's built-in question to its people: a call would wait for an answer no test gives."""


def _tool_calls(tools: list[Any]) -> list[dict[str, Any]]:
    calls = []
    for index, tool in enumerate(tools):
        function = tool.get("function", {}) if isinstance(tool, dict) else {}
        if function.get("name") == ASKS_PEOPLE:
            continue
        calls.append(
            {
                "id": f"call_fake_{index}",
                "type": "function",
                "function": {
                    "name": function.get("name", "unknown"),
                    "arguments": _fake_arguments(function.get("parameters", {})),
                },
            }
        )
    return calls


def _has_tool_result(messages: list[Any]) -> bool:
    return any(isinstance(m, dict) and m.get("role") == "tool" for m in messages)


def _malformed(kind: str, base: dict[str, Any]) -> Response:
    """A 200 answer that is not a chat completion, in one of a few shapes."""
    if kind == "json":
        return Response(b"{not json", media_type="application/json")
    choices: Any = {
        "choices": "none",
        "message": [{"index": 0, "finish_reason": "stop"}],
        "content": [{"index": 0, "message": {"role": "assistant", "content": {"text": 1}}, "finish_reason": "stop"}],
    }.get(kind, [])
    return JSONResponse(dict(base, object="chat.completion", choices=choices))


def _malformed_chunk(kind: str, base: dict[str, Any]) -> bytes:
    """A stream event that is not a chat-completion chunk, in the shapes of ``_malformed``."""
    if kind == "json":
        return b"data: {not json\n\n"
    choices: Any = {
        "choices": "none",
        "message": [{"index": 0, "delta": [{"content": "x"}], "finish_reason": None}],
        "content": [{"index": 0, "delta": {"content": {"text": 1}}, "finish_reason": None}],
    }.get(kind, [])
    return b"data: " + json.dumps(dict(base, choices=choices)).encode() + b"\n\n"


def _auth_problem(request: Request) -> Response | None:
    if not _REQUIRED_KEY:
        return None
    given = request.headers.get("api-key") or request.headers.get("authorization", "").removeprefix("Bearer ")
    if given != _REQUIRED_KEY:
        return _error(401, "Incorrect API key provided.", code="invalid_api_key")
    return None


async def _read_json(request: Request) -> dict[str, Any] | Response:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.")
    if not isinstance(body, dict):
        return _error(400, "The request body must be a JSON object.")
    if _RECORD:
        _REQUESTS.append(
            {
                "path": request.url.path,
                "query": str(request.url.query),
                "headers": dict(request.headers),
                "body": body,
                "client_port": request.client.port if request.client else None,
            }
        )
    return body


async def _failure(request: Request, model: str, directives: dict[str, str]) -> Response | None:
    latency = float(request.headers.get("x-fake-latency-ms") or directives.get("latency_ms") or _DEFAULT_LATENCY_MS)
    if latency > 0:
        await asyncio.sleep(latency / 1000)
    status = directives.get("error")
    if status is None:
        return None
    fail_times = directives.get("fail_times")
    if fail_times is not None and not _among_first(model, fail_times):
        return None
    return _error(int(status), f"injected failure {status}", retry_after=directives.get("retry_after"))


_ERROR_EVENT = {"error": {"message": "injected mid-stream error", "type": "server_error", "param": None, "code": None}}
_MIDSTREAM_ERROR = b"data: " + json.dumps(_ERROR_EVENT).encode() + b"\n\n"


def _among_first(model: str, times: str) -> bool:
    """Count a request for ``model`` (the exact string); whether it is among the first ``times``."""
    seen = _FAIL_COUNTS.get(model, 0)
    _FAIL_COUNTS[model] = seen + 1
    return seen < int(times)


def _stream_directives(model: str, directives: dict[str, str]) -> dict[str, str]:
    """The directives for this stream: with ``fail_times``, streams after the first N do not break off."""
    fail_times = directives.get("fail_times")
    if fail_times is None or "error" in directives or _among_first(model, fail_times):
        return directives
    return {k: v for k, v in directives.items() if k not in ("midstream", "midstream_error")}


def _break_off(sent: int, drop_after: int, error_after: int) -> bytes | None:
    """After ``sent`` chunks: drop the connection (raises), or the in-band error to end the stream with."""
    if sent == drop_after:
        raise ConnectionResetError("injected mid-stream failure")
    return _MIDSTREAM_ERROR if sent == error_after else None


def _chunk(base: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"


async def _stream(
    base: dict[str, Any],
    text: str,
    calls: list[dict[str, Any]],
    usage: dict[str, int],
    directives: dict[str, str],
    include_usage: bool,
) -> AsyncIterator[bytes]:
    yield _chunk(base, {"role": "assistant", "content": "" if not calls else None})
    if directives.get("malformed"):
        yield _malformed_chunk(directives["malformed"], base)
        yield b"data: [DONE]\n\n"
        return
    drop_after = int(directives.get("midstream", "-1"))
    error_after = int(directives.get("midstream_error", "-1"))
    hold_after = int(directives.get("hold_after", "-1"))
    sent = 0
    gap = float(directives.get("gap_ms", "0")) / 1000
    if calls:
        for index, call in enumerate(calls):
            head = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            yield _chunk(base, {"tool_calls": [head]})
            arguments = call["function"]["arguments"]
            middle = len(arguments) // 2
            for piece in (arguments[:middle], arguments[middle:]):
                if (error := _break_off(sent, drop_after, error_after)) is not None:
                    yield error
                    return
                yield _chunk(base, {"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                sent += 1
    elif directives.get("stamp"):
        for _ in range(max(1, int(directives.get("chunks", "4")))):
            yield _chunk(base, {"content": f"[{time.time():.6f}]"})
            await asyncio.sleep(gap)
    else:
        pieces = max(1, int(directives.get("chunks", "4")))
        step = max(1, -(-len(text) // pieces))
        for start in range(0, len(text), step):
            if (error := _break_off(sent, drop_after, error_after)) is not None:
                yield error
                return
            yield _chunk(base, {"content": text[start : start + step]})
            sent += 1
            if sent == hold_after:
                await _RELEASED.wait()
            await asyncio.sleep(gap)
    yield _chunk(base, {}, finish="tool_calls" if calls else "stop")
    if include_usage:
        payload = dict(base, choices=[], usage=usage)
        yield b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"
    if directives.get("linger_ms"):
        await asyncio.sleep(int(directives["linger_ms"]) / 1000)


async def _chat(request: Request, deployment: str | None = None) -> Response:
    problem = _auth_problem(request)
    if problem is not None:
        return problem
    body = await _read_json(request)
    if isinstance(body, Response):
        return body
    model = str(body.get("model") or deployment or "")
    if not model:
        return _error(400, "you must provide a model parameter")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _error(400, "Missing required parameter: 'messages'.")
    name, directives = _directives(model)
    failure = await _failure(request, model, directives)
    if failure is not None:
        return failure
    _COUNTER[0] += 1
    tools = body.get("tools") or []
    mode = directives.get("tools")
    wants_calls = mode == "1" or (mode == "first" and not _has_tool_result(messages))
    calls = _tool_calls(tools) if tools and wants_calls else []
    text = directives.get("reply") or f"fake reply #{_COUNTER[0]}: {_last_user_text(messages)[:200]}"
    prompt_tokens = _tokens(_message_text(messages))
    completion_tokens = _tokens(text if not calls else json.dumps(calls))
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
    base = {
        "id": f"chatcmpl-fake{_COUNTER[0]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": name,
        "system_fingerprint": "fp_fake",
    }
    if body.get("stream"):
        options = body.get("stream_options") or {}
        include_usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
        directives = _stream_directives(model, directives)
        return StreamingResponse(
            _stream(base, text, calls, usage, directives, include_usage), media_type="text/event-stream"
        )
    if directives.get("paced"):
        await asyncio.sleep(int(directives.get("chunks", "4")) * float(directives.get("gap_ms", "0")) / 1000)
    if directives.get("malformed"):
        return _malformed(directives["malformed"], base)
    content: Any = None if calls else text
    if content is not None and directives.get("content") == "parts":
        middle = len(text) // 2
        content = [{"type": "text", "text": text[:middle]}, {"type": "text", "text": text[middle:]}]
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        if directives.get("args") == "object":
            calls = [
                {**call, "function": {**call["function"], "arguments": json.loads(call["function"]["arguments"])}}
                for call in calls
            ]
        message["tool_calls"] = calls
    result = dict(
        base,
        object="chat.completion",
        usage=usage,
        choices=[
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if calls else "stop",
            }
        ],
    )
    return Response(json.dumps(result, separators=(",", ":")), media_type="application/json")


async def _embeddings(request: Request, deployment: str | None = None) -> Response:
    problem = _auth_problem(request)
    if problem is not None:
        return problem
    body = await _read_json(request)
    if isinstance(body, Response):
        return body
    model = str(body.get("model") or deployment or "")
    raw_input = body.get("input")
    inputs = [raw_input] if isinstance(raw_input, str) else raw_input
    if not model or not isinstance(inputs, list) or not inputs:
        return _error(400, "'input' and 'model' are required")
    failure = await _failure(request, model, _directives(model)[1])
    if failure is not None:
        return failure
    data = []
    for index, item in enumerate(inputs):
        digest = hashlib.sha256(str(item).encode()).digest()
        data.append({"object": "embedding", "index": index, "embedding": [b / 255 for b in digest[:8]]})
    tokens = sum(_tokens(str(item)) for item in inputs)
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": _directives(model)[0],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/models")
async def models() -> dict[str, Any]:
    return {
        "object": "list",
        "data": [{"id": "fake-gpt", "object": "model", "created": 0, "owned_by": "fake"}],
    }


@app.post("/v1/chat/completions")
async def chat(request: Request) -> Response:
    return await _chat(request)


@app.post("/v1/embeddings")
async def embeddings(request: Request) -> Response:
    return await _embeddings(request)


@app.post("/openai/v1/chat/completions")
async def azure_v1_chat(request: Request) -> Response:
    return await _chat(request)


@app.post("/openai/deployments/{deployment}/chat/completions")
async def azure_chat(deployment: str, request: Request) -> Response:
    if not request.query_params.get("api-version"):
        return _error(404, "Resource not found")
    return await _chat(request, deployment)


@app.post("/openai/deployments/{deployment}/embeddings")
async def azure_embeddings(deployment: str, request: Request) -> Response:
    if not request.query_params.get("api-version"):
        return _error(404, "Resource not found")
    return await _embeddings(request, deployment)


@app.get("/_control/requests")
async def control_requests() -> list[dict[str, Any]]:
    return _REQUESTS


@app.post("/_control/release")
async def control_release() -> dict[str, bool]:
    _RELEASED.set()
    return {"released": True}


@app.post("/_control/reset")
async def control_reset() -> dict[str, str]:
    _REQUESTS.clear()
    _FAIL_COUNTS.clear()
    _RELEASED.clear()
    return {"status": "reset"}
