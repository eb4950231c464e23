from collections.abc import Iterator

import pytest

from tests.support import redis_server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis for the whole session; the tests that need it skip where redis-server is absent."""
    if not redis_server.available():
        pytest.skip(redis_server.MISSING)
    with redis_server.redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url
