"""Waits for outside events declared by an operation: x-toolmesh-wait in the spec, waits in the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from openapi_engine import ConversionOptions, RegistryError, WaitSpec, convert_document, load_registry


def _spec(extension: Any = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": "askDeveloper", "responses": {"200": {"description": "ok"}}}
    if extension is not None:
        operation["x-toolmesh-wait"] = extension
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {"/ask": {"post": operation}}}


def test_a_spec_declares_a_wait_and_the_short_form_matches_an_input() -> None:
    converted = convert_document(
        _spec({"event": "developer.response", "match": "ticketId"}), "mem", ConversionOptions()
    )
    assert converted.functions[0].wait == WaitSpec(event="developer.response", match={"ticketId": "input.ticketId"})


def test_the_registry_wait_wins_over_the_spec() -> None:
    wait = WaitSpec(event="payment.done", match={"order": "arguments.order"}, timeout_seconds=60)
    options = ConversionOptions(waits={"askDeveloper": wait})
    converted = convert_document(_spec({"event": "developer.response", "match": "ticketId"}), "mem", options)
    assert converted.functions[0].wait == wait


def test_a_bad_wait_fails_its_operation_alone() -> None:
    converted = convert_document(_spec({"event": "x", "match": {"a": "somewhere.a"}}), "mem", ConversionOptions())
    assert converted.functions == []
    assert "input.<name>" in converted.problems[0].reason


def test_a_bad_registry_wait_names_the_tool_and_operation(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    entry = {"spec": "s.json", "base_url": "http://127.0.0.1:1", "waits": {"askDeveloper": {"event": "x y"}}}
    path.write_text(yaml.safe_dump({"tools": {"dev": entry}}))
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert "dev" in str(caught.value) and "askDeveloper" in str(caught.value)
