"""A service killed while its answer is on the way is a failure worth calling again, not a final one."""

from __future__ import annotations

import asyncio

import aiohttp

from openapi_engine import convert_document, invoke

SPEC = {
    "openapi": "3.0.3",
    "info": {"title": "t", "version": "1"},
    "paths": {"/notes": {"post": {"operationId": "createNote", "responses": {"201": {"description": "made"}}}}},
}


async def _answer_cut_off(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    # The head promises 100 bytes; the connection ends after 10, as when the process dies.
    writer.write(b'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"id": 12')
    await writer.drain()
    writer.close()


async def test_an_answer_cut_off_midway_is_retryable() -> None:
    server = await asyncio.start_server(_answer_cut_off, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    function = convert_document(SPEC, "cut.json").functions[0]
    try:
        async with aiohttp.ClientSession() as client:
            result = await invoke(
                function, {}, base_url=f"http://127.0.0.1:{port}", client=client, settings={}, idempotency_key="k-1"
            )
    finally:
        server.close()
        await server.wait_closed()
    assert not result.ok
    assert result.retryable, result
    assert "cut off" in (result.error or "")
