"""Argument validation messages are written for the model."""

from __future__ import annotations

from openapi_engine import ToolFunction, validate_arguments


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
