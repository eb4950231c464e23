"""Swagger 2.0 specs are upgraded: body, formData, files, collection formats, security."""

from __future__ import annotations

from openapi_engine import ToolFunction, convert_document

SPEC = {
    "swagger": "2.0",
    "info": {"title": "old", "version": "1"},
    "host": "api.example.com",
    "basePath": "/v1",
    "schemes": ["https"],
    "securityDefinitions": {
        "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
        "basic": {"type": "basic"},
    },
    "security": [{"key": []}],
    "parameters": {"limit": {"name": "limit", "in": "query", "type": "integer", "maximum": 50}},
    "definitions": {
        "Pet": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
    },
    "paths": {
        "/pets": {
            "get": {
                "operationId": "listPets",
                "parameters": [
                    {"$ref": "#/parameters/limit"},
                    {
                        "name": "tags",
                        "in": "query",
                        "type": "array",
                        "items": {"type": "string"},
                        "collectionFormat": "multi",
                    },
                    {
                        "name": "ids",
                        "in": "query",
                        "type": "array",
                        "items": {"type": "integer"},
                        "collectionFormat": "pipes",
                    },
                ],
                "responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Pet"}}},
            },
            "post": {
                "operationId": "addPet",
                "security": [{"basic": []}],
                "parameters": [
                    {"name": "pet", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Pet"}}
                ],
                "responses": {"201": {"description": "created"}},
            },
        },
        "/pets/{id}/photo": {
            "post": {
                "operationId": "uploadPhoto",
                "consumes": ["multipart/form-data"],
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "type": "string"},
                    {"name": "photo", "in": "formData", "required": True, "type": "file"},
                    {"name": "note", "in": "formData", "type": "string"},
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
}


def functions() -> dict[str, ToolFunction]:
    result = convert_document(SPEC, "old.json")
    assert result.problems == []
    return {fn.name: fn for fn in result.functions}


def test_query_parameters_get_styles_from_collection_format() -> None:
    fn = functions()["listPets"]
    styles = {b.name: (b.style, b.explode) for b in fn.params}
    assert styles == {"limit": ("form", True), "tags": ("form", True), "ids": ("pipeDelimited", False)}
    assert fn.parameters["properties"]["limit"] == {"type": "integer", "maximum": 50}


def test_body_parameter_becomes_a_json_body() -> None:
    fn = functions()["addPet"]
    assert fn.body is not None and fn.body.media_type == "application/json"
    assert fn.parameters["required"] == ["name"]
    assert [[s.kind for s in alt] for alt in fn.security] == [["basic"]]


def test_form_data_with_a_file_becomes_multipart() -> None:
    fn = functions()["uploadPhoto"]
    assert fn.body is not None and fn.body.media_type == "multipart/form-data"
    assert fn.body.binary_fields == ["photo"]
    assert fn.parameters["required"] == ["id", "photo"]
    assert [[s.param_name for s in alt] for alt in fn.security] == [["X-Key"]]
