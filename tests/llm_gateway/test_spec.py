"""The exported OpenAPI document matches the app and describes what agents call."""

from __future__ import annotations

import json

from openapi_pydantic import parse_obj

from llm_gateway.spec import SPEC_PATH, render_spec


def test_spec_parses_and_names_every_operation() -> None:
    document = json.loads(render_spec())
    parse_obj(document)
    operations = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {"createChatCompletion", "createEmbedding", "listModels", "getUsage"} <= operations
    chat = document["paths"]["/v1/chat/completions"]["post"]
    schema = chat["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/ChatCompletionRequest"}
    request = document["components"]["schemas"]["ChatCompletionRequest"]
    assert {"model", "messages"} <= set(request["required"])
    assert "ChatMessage" in document["components"]["schemas"]
    assert chat["responses"]["429"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_v1_operations_declare_bearer_auth_for_registries() -> None:
    document = json.loads(render_spec())
    assert document["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    for route, path in document["paths"].items():
        for operation in path.values():
            expected: list[dict[str, list[str]]] | None = [{"BearerAuth": []}] if route.startswith("/v1/") else None
            assert operation.get("security") == expected, route


def test_agents_can_load_the_spec_as_tools() -> None:
    from openapi_engine.converter import load_and_convert

    converted = load_and_convert(str(SPEC_PATH))
    assert not converted.problems
    functions = {f.name: f for f in converted.functions}
    assert {"createChatCompletion", "createEmbedding", "getUsage"} <= set(functions)
    chat = json.dumps(functions["createChatCompletion"].parameters)
    assert '"messages"' in chat and "authorization" not in chat.lower()
