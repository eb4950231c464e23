"""Schema conversion: composition, nullability, pruning, strict variants and names."""

from __future__ import annotations

from typing import Any

from openapi_engine import check_strict_schema, check_tools, convert_document
from openapi_engine.naming import base_name, dedupe
from openapi_engine.strict import to_strict
from openapi_engine.text import clean_text


def convert(schema: dict[str, Any], schemas: dict[str, Any] | None = None, version: str = "3.0.3") -> dict[str, Any]:
    spec = {
        "openapi": version,
        "info": {"title": "t", "version": "1"},
        "components": {"schemas": schemas or {}},
        "paths": {
            "/x": {
                "post": {
                    "operationId": "op",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    result = convert_document(spec, "t.json")
    assert result.problems == []
    (fn,) = result.functions
    return {"parameters": fn.parameters, "strict": fn.strict_parameters, "reason": fn.strict_reason}


def test_all_of_objects_are_merged() -> None:
    schemas = {
        "Base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}},
        "Named": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
    }
    out = convert({"allOf": [{"$ref": "#/components/schemas/Base"}, {"$ref": "#/components/schemas/Named"}]}, schemas)
    params = out["parameters"]
    assert params["properties"] == {"id": {"type": "integer"}, "name": {"type": "string"}}
    assert params["required"] == ["id", "name"]
    assert "$defs" not in params


def test_nullable_becomes_a_null_type_and_one_of_becomes_any_of() -> None:
    out = convert(
        {
            "type": "object",
            "properties": {
                "a": {"type": "string", "nullable": True, "enum": ["x", "y"]},
                "b": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                "c": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
            },
        }
    )
    props = out["parameters"]["properties"]
    assert props["a"] == {"type": ["string", "null"], "enum": ["x", "y", None]}
    assert props["b"] == {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    assert props["c"] == {"type": "number", "exclusiveMinimum": 0}


def test_openapi_3_1_type_arrays_are_kept() -> None:
    out = convert({"type": "object", "properties": {"a": {"type": ["string", "null"]}}}, version="3.1.0")
    assert out["parameters"]["properties"]["a"] == {"type": ["string", "null"]}


def test_read_only_fields_and_documentation_keywords_are_dropped() -> None:
    out = convert(
        {
            "type": "object",
            "required": ["id", "name"],
            "properties": {
                "id": {"type": "string", "readOnly": True},
                "name": {
                    "type": "string",
                    "example": "x",
                    "xml": {"name": "n"},
                    "title": "Name",
                    "x-internal": 1,
                },
            },
        }
    )
    assert out["parameters"]["properties"] == {"name": {"type": "string"}}
    assert out["parameters"]["required"] == ["name"]


def test_defs_are_pruned_per_function_and_recursion_kept() -> None:
    schemas = {
        "Tree": {
            "type": "object",
            "properties": {"kids": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}},
        },
        "Unused": {"type": "object", "properties": {"z": {"type": "string"}}},
    }
    out = convert({"type": "object", "properties": {"root": {"$ref": "#/components/schemas/Tree"}}}, schemas)
    assert set(out["parameters"]["$defs"]) == {"Tree"}
    assert out["strict"] is not None and check_strict_schema(out["strict"]) == []


def test_strict_variant_requires_everything_with_null_unions() -> None:
    out = convert(
        {
            "type": "object",
            "required": ["a"],
            "properties": {
                "a": {"type": "string", "maxLength": 3, "format": "uri"},
                "b": {"type": "integer", "default": 1},
            },
        }
    )
    strict = out["strict"]
    assert strict["required"] == ["a", "b"]
    assert strict["additionalProperties"] is False
    assert strict["properties"]["a"] == {"type": "string"}
    assert strict["properties"]["b"] == {"type": ["integer", "null"]}


def test_free_form_objects_fall_back_to_non_strict_with_a_reason() -> None:
    out = convert({"type": "object", "properties": {"meta": {"type": "object", "additionalProperties": True}}})
    assert out["strict"] is None
    assert "/properties/meta" in out["reason"] and "free-form" in out["reason"]


def test_strict_checker_flags_each_rule() -> None:
    bad = {
        "type": "object",
        "properties": {
            "a": {"type": "string", "minLength": 1},
            "b": {"allOf": [{"type": "string"}]},
            "c": {"type": "object", "properties": {"d": {"type": "string"}}},
        },
        "required": ["a"],
    }
    problems = "\n".join(check_strict_schema(bad))
    assert "'minLength' is not permitted" in problems
    assert "'allOf' is not permitted" in problems
    assert "'additionalProperties' is required" in problems
    assert "missing ['b', 'c']" in problems


def test_strict_checker_enforces_nesting_limit() -> None:
    node: dict[str, Any] = {"type": "string"}
    for _ in range(11):
        node = {"type": "object", "properties": {"x": node}, "required": ["x"], "additionalProperties": False}
    assert any("levels of nesting exceeds limit of 10" in p for p in check_strict_schema(node))
    assert to_strict(node)[0] is None


def test_tool_checker_flags_names_descriptions_and_count() -> None:
    tool = {
        "type": "function",
        "function": {"name": "ok", "description": "d", "parameters": {"type": "object"}},
    }
    bad_name = {"type": "function", "function": {"name": "a.b/c", "parameters": {"type": "object"}}}
    long_desc = {
        "type": "function",
        "function": {"name": "x", "description": "d" * 1025, "parameters": {"type": "object"}},
    }
    problems = "\n".join(check_tools([tool, tool, bad_name, long_desc] + [tool] * 130))
    assert "does not match" in problems
    assert "used twice" in problems
    assert "longer than 1024" in problems
    assert "over the limit of 128" in problems


def test_names_are_sanitized_shortened_and_deduplicated_stably() -> None:
    assert base_name("post_oauth2_token#refresh", "POST", "/oauth2/token") == "post_oauth2_token_refresh"
    assert base_name("", "GET", "/api/v1.0/{id}/weather") == "get_api_v1_0_id_weather"
    long = base_name("x" * 100, "GET", "/p")
    assert len(long) == 64 and long == base_name("x" * 100, "GET", "/p")
    names = dedupe([("a_b", "GET", "/a.b"), ("a_b", "GET", "/a/b"), ("c", "GET", "/c")])
    assert names[2] == "c" and len(set(names)) == 3 and all(n.startswith("a_b_") for n in names[:2])
    assert dedupe([("a_b", "GET", "/a/b"), ("a_b", "GET", "/a.b")]) == names[1::-1]


def test_descriptions_are_plain_text_within_limit() -> None:
    text = '# Title\n\nSee [the docs](http://x) and <b>bold</b> `code`.\n\n```json\n{"a": 1}\n```\n' + "word " * 400
    cleaned = clean_text(text)
    assert cleaned.startswith("Title See the docs and bold code.")
    assert len(cleaned) <= 1024 and cleaned.endswith("…")


def test_legacy_limits_are_stricter() -> None:
    from openapi_engine import LEGACY_STRICT_LIMITS

    node: dict[str, Any] = {"type": "string"}
    for _ in range(6):
        node = {"type": "object", "properties": {"x": node}, "required": ["x"], "additionalProperties": False}
    assert check_strict_schema(node) == []
    assert any("exceeds limit of 5" in p for p in check_strict_schema(node, limits=LEGACY_STRICT_LIMITS))
    props = {f"p{i}": {"type": "string"} for i in range(101)}
    wide: dict[str, Any] = {"type": "object", "properties": props, "required": list(props)}
    wide["additionalProperties"] = False
    assert to_strict(wide)[0] is not None
    assert "101 properties exceeds limit of 100" in (to_strict(wide, limits=LEGACY_STRICT_LIMITS)[1] or "")
