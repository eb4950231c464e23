"""The package's public surface is a checked, sorted list."""

from __future__ import annotations

import openapi_engine


def test_all_is_sorted_and_importable() -> None:
    names = openapi_engine.__all__
    assert names == sorted(names, key=lambda n: (not n.isupper(), n))
    for name in names:
        assert hasattr(openapi_engine, name), name
