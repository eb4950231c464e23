from collections.abc import Iterator

import pytest

from tests.support.local_mesh import Mesh, start_mesh


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    """One mesh shared by a test module (the crash test starts its own)."""
    running = start_mesh(tmp_path_factory.mktemp("mesh"))
    try:
        yield running
    finally:
        running.stop()
