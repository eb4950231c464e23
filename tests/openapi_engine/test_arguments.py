"""Argument validation messages are written for the model."""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from openapi_engine import ToolFunction, arguments, validate_arguments


def test_valid_arguments_give_no_messages(fn) -> None:
    assert validate_arguments(fn("updateNote"), {"id__path": "n", "title": "t"}) == []


def test_missing_unknown_and_wrong_type_are_named(fn) -> None:
    messages = validate_arguments(fn("updateNote"), {"title": 5, "colour": "red"})
    text = "\n".join(messages)
    assert "missing required argument 'id__path'" in text
    assert "unknown argument 'colour'" in text and "expected only:" in text
    assert "argument 'title': 5 is not of type 'string'" in text


def test_nested_locations_are_shown(fn) -> None:
    messages = validate_arguments(fn("queryStyles"), {"tags": ["a", 3], "limit": 0})
    assert "argument 'limit': 0 is less than the minimum of 1" in messages
    assert "argument 'tags[1]': 3 is not of type 'string'" in messages


def test_non_object_arguments_are_rejected(fn) -> None:
    assert validate_arguments(fn("publicGet"), ["x"]) == ["arguments must be a JSON object, got list"]


def test_strict_nulls_for_optional_fields_are_accepted(fn) -> None:
    function: ToolFunction = fn("queryStyles")
    args = {name: None for name in function.parameters["properties"]}
    assert validate_arguments(function, args) == []


def test_messages_about_huge_values_stay_short(fn) -> None:
    (message,) = validate_arguments(fn("postText"), {"body": ["x" * 5000]})
    assert message.startswith("argument 'body': ") and len(message) <= 300


def _function(parameters: dict[str, object]) -> ToolFunction:
    return ToolFunction(
        name="f", tool="t", operation_id="f", method="POST", path="/f", description="", parameters=parameters
    )


def test_each_schema_is_compiled_once_and_the_cache_is_bounded(monkeypatch) -> None:
    compiled: list[object] = []
    real = jsonschema_rs.Draft202012Validator

    def counting(schema: dict[str, Any]) -> object:
        compiled.append(schema)
        return real(schema)

    monkeypatch.setattr(jsonschema_rs, "Draft202012Validator", counting)
    monkeypatch.setattr(arguments, "_compiled", {})
    monkeypatch.setattr(arguments, "MAX_COMPILED", 2)
    first = _function({"type": "object", "properties": {"n": {"type": "integer"}}})
    for value in (1, 2, "three"):
        validate_arguments(first, {"n": value})
    assert compiled == [first.parameters]
    assert validate_arguments(first, {"n": "three"}) == ["argument 'n': 'three' is not of type 'integer'"]
    others = [_function({"type": "object", "maxProperties": n}) for n in range(3)]
    for other in others:
        assert validate_arguments(other, {}) == []
    assert len(arguments._compiled) == 2 and id(first.parameters) not in arguments._compiled


def test_jsonschema_has_the_last_word_where_the_validators_disagree() -> None:
    # jsonschema-rs reads \w as ASCII only and cannot compile \Z; Python's re accepts both.
    word = _function({"type": "object", "properties": {"w": {"type": "string", "pattern": r"^\w+$"}}})
    assert validate_arguments(word, {"w": "héllo"}) == []
    anchored = _function({"type": "object", "properties": {"w": {"type": "string", "pattern": r"^a+\Z"}}})
    assert validate_arguments(anchored, {"w": "aa"}) == []
    assert validate_arguments(anchored, {"w": "ab"}) == ["argument 'w': 'ab' does not match '^a+\\\\Z'"]


def test_values_beyond_the_compiled_validator_are_still_checked() -> None:
    limited = _function({"type": "object", "properties": {"n": {"type": "integer", "maximum": 10}}})
    assert validate_arguments(limited, {"n": 2**100}) == [f"argument 'n': {2**100} is greater than the maximum of 10"]
    assert validate_arguments(limited, {"n": 2**70 - 2**80}) == []
