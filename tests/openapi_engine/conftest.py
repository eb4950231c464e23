"""Shared fixtures: the echo service on a loopback port and the converted echo spec."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from openapi_engine import ConversionOptions, ConvertedSpec, ToolFunction, load_and_convert
from tests.support.servers import REPO_ROOT, RunningServer, start_uvicorn

FIXTURES = Path(__file__).parent / "fixtures"
ECHO_SPEC = FIXTURES / "echo.yaml"
CORPUS = REPO_ROOT.parent / "shared" / "corpus" / "openapi"


@pytest.fixture(scope="session")
def echo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    log = tmp_path_factory.mktemp("echo") / "echo.log"
    server = start_uvicorn("tests.openapi_engine.echo_app:app", log_path=log)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def echo_spec() -> ConvertedSpec:
    return load_and_convert(str(ECHO_SPEC), ConversionOptions(tool="echo", auth={"ApiKeyAuth": "ECHO_KEY"}))


@pytest.fixture
def fn(echo_spec: ConvertedSpec):
    def get(name: str) -> ToolFunction:
        for function in echo_spec.functions:
            if function.name == name:
                return function
        raise KeyError(name)

    return get


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


def corpus_path(relative: str) -> Path:
    path = CORPUS / relative
    if not path.exists():
        pytest.skip(f"the shared OpenAPI corpus is not available at {CORPUS}")
    return path
