"""A catalog built with a conversion cache converts a spec again only when its text or options change."""

from __future__ import annotations

from pathlib import Path

import pytest

from openapi_engine import ConversionCache, ConversionOptions, SpecLoadError, build_catalog, load_registry
from openapi_engine.converter import ConvertedSpec
from tests.openapi_engine.conftest import FIXTURES

ECHO = (FIXTURES / "echo.yaml").read_text()


def registry_file(tmp_path: Path, spec_text: str, *, extra: str = "") -> Path:
    # Registry paths are relative to the folder above the registry's own (the repository root).
    (tmp_path / "echo.yaml").write_text(spec_text)
    (tmp_path / "specs").mkdir(exist_ok=True)
    path = tmp_path / "specs" / "registry.yaml"
    path.write_text(f"tools:\n  echo:\n    spec: echo.yaml\n    base_url: http://127.0.0.1:8199\n{extra}")
    return path


def test_unchanged_spec_is_converted_once_and_gives_the_same_catalog(tmp_path: Path) -> None:
    cache = ConversionCache()
    registry = load_registry(registry_file(tmp_path, ECHO))
    first = build_catalog(registry, cache=cache)
    second = build_catalog(registry, cache=cache)
    assert (cache.misses, cache.hits) == (1, 1)
    assert second.to_dict() == first.to_dict()
    assert first.to_dict() == build_catalog(registry).to_dict()


def test_changed_spec_text_is_converted_again(tmp_path: Path) -> None:
    cache = ConversionCache()
    path = registry_file(tmp_path, ECHO)
    before = build_catalog(load_registry(path), cache=cache)
    changed = ECHO.replace("operationId: pathSimple", "operationId: pathPlain")
    assert changed != ECHO, "the fixture changed: pick another operation to rename"
    registry_file(tmp_path, changed)
    after = build_catalog(load_registry(path), cache=cache)
    assert cache.misses == 2 and cache.hits == 0
    assert "pathSimple" in {f.operation_id for f in before.functions}
    assert "pathPlain" in {f.operation_id for f in after.functions}


def test_changed_registry_options_are_converted_again(tmp_path: Path) -> None:
    cache = ConversionCache()
    all_methods = build_catalog(load_registry(registry_file(tmp_path, ECHO)), cache=cache)
    only_get = build_catalog(
        load_registry(registry_file(tmp_path, ECHO, extra="    include: {methods: [get]}\n")), cache=cache
    )
    assert cache.misses == 2
    assert {f.method for f in only_get.functions} == {"GET"}
    assert len(only_get.functions) < len(all_methods.functions)


def test_broken_spec_is_reported_every_time_and_not_cached(tmp_path: Path) -> None:
    cache = ConversionCache()
    registry = load_registry(registry_file(tmp_path, "openapi: 3.0.0\npaths: [not, a, mapping\n"))
    for _ in range(2):
        catalog = build_catalog(registry, cache=cache)
        assert not catalog.functions
        assert catalog.problems and catalog.problems[0].tool == "echo"
    assert cache.hits == 0


def test_entries_expire_after_the_ttl_so_external_ref_changes_are_seen() -> None:
    now = [0.0]
    cache = ConversionCache(ttl_seconds=60, clock=lambda: now[0])
    made: list[int] = []

    def convert() -> ConvertedSpec:
        made.append(1)
        return ConvertedSpec(source="s", title="t", functions=[], problems=[])

    options = ConversionOptions(tool="t")
    cache.get_or_convert("s", b"text", options, convert)
    now[0] = 59.0
    cache.get_or_convert("s", b"text", options, convert)
    now[0] = 121.0
    cache.get_or_convert("s", b"text", options, convert)
    assert len(made) == 2


def test_a_conversion_that_raises_leaves_nothing_behind() -> None:
    cache = ConversionCache()

    def broken() -> ConvertedSpec:
        raise SpecLoadError("s", None, "bad")

    with pytest.raises(SpecLoadError):
        cache.get_or_convert("s", b"x", ConversionOptions(), broken)
    ok = ConvertedSpec(source="s", title="t", functions=[], problems=[])
    assert cache.get_or_convert("s", b"x", ConversionOptions(), lambda: ok) is ok


def test_the_cache_keeps_at_most_max_entries() -> None:
    cache = ConversionCache(max_entries=2)
    for n in range(3):
        cache.get_or_convert(
            "s",
            str(n).encode(),
            ConversionOptions(),
            lambda: ConvertedSpec(source="s", title="t", functions=[], problems=[]),
        )
    cache.get_or_convert(
        "s", b"0", ConversionOptions(), lambda: ConvertedSpec(source="s", title="t", functions=[], problems=[])
    )
    assert cache.misses == 4
