"""Every real spec in the corpus loads, and every operation is converted or reported."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from openapi_engine import ConvertedSpec, check_tools, load_and_convert
from openapi_engine.documents import parse_document, read_source
from openapi_engine.refs import escape_pointer
from openapi_engine.shaping import MAX_SCHEMA_CHARS
from tests.openapi_engine.conftest import corpus_path

SPECS = {
    "petstore-3.0/openapi.yaml": 19,
    "museum-3.1/openapi.yaml": 8,
    "openai-3.1/openapi.yaml": 288,
    "box-3.0/openapi.json": 296,
    "twilio-3.0/twilio_api_v2010.json": 197,
    "slack-2.0/slack_web_openapi_v2.json": 174,
    "digitalocean-3.0-multifile/specification/DigitalOcean-public.v2.yaml": 659,
}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@functools.cache
def converted(relative: str) -> ConvertedSpec:
    return load_and_convert(str(corpus_path(relative)))


def operation_pointers(relative: str) -> set[str]:
    source = str(corpus_path(relative))
    document: Any = parse_document(read_source(source), source)
    return {
        f"/paths/{escape_pointer(path)}/{method}"
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    }


@pytest.mark.parametrize("relative", sorted(SPECS))
def test_every_operation_is_converted_or_reported(relative: str) -> None:
    spec = converted(relative)
    pointers = operation_pointers(relative)
    assert len(pointers) == SPECS[relative]
    done = {f"/paths/{escape_pointer(fn.path)}/{fn.method.lower()}" for fn in spec.functions}
    reported = {p.pointer for p in spec.problems}
    assert done | reported == pointers
    assert not done & reported
    assert all(p.reason for p in spec.problems)
    failed = [p for p in spec.problems if p.reason != "deprecated; skipped"]
    assert len(failed) <= 0.05 * len(pointers)


@pytest.mark.parametrize("relative", sorted(SPECS))
def test_every_function_passes_the_openai_rules(relative: str) -> None:
    functions = converted(relative).functions
    for strict in (False, True):
        tools = [fn.openai_tool(strict=strict) for fn in functions]
        for start in range(0, len(tools), 128):
            assert check_tools(tools[start : start + 128]) == []
        assert len({t["function"]["name"] for t in tools}) == len(tools)


@pytest.mark.parametrize("relative", sorted(SPECS))
def test_schemas_stay_within_the_size_budget(relative: str) -> None:
    for fn in converted(relative).functions:
        assert fn.size_chars == fn.approx_tokens * 4 - (-fn.size_chars % 4)
        assert fn.size_chars <= MAX_SCHEMA_CHARS + 1024 + 200 or fn.schema_note is not None, fn.name
        assert fn.size_chars < 3 * MAX_SCHEMA_CHARS, fn.name


def test_most_functions_get_a_strict_variant() -> None:
    functions = [fn for relative in SPECS for fn in converted(relative).functions]
    strict = [fn for fn in functions if fn.strict_parameters is not None]
    assert len(strict) >= 0.85 * len(functions)
    assert all(fn.strict_reason for fn in functions if fn.strict_parameters is None)


def test_webhooks_do_not_become_tools() -> None:
    names = {fn.operation_id for fn in converted("museum-3.1/openapi.yaml").functions}
    assert "publishNewEvent" not in names and len(names) == 8


def test_invalid_box_operation_ids_are_sanitized_uniquely() -> None:
    functions = converted("box-3.0/openapi.json").functions
    refresh = [fn for fn in functions if fn.operation_id == "post_oauth2_token#refresh"]
    assert len(refresh) == 1 and refresh[0].name.startswith("post_oauth2_token_refresh")


def test_twilio_form_bodies_keep_their_fields() -> None:
    create = next(fn for fn in converted("twilio-3.0/twilio_api_v2010.json").functions if fn.name == "CreateMessage")
    assert create.body is not None and create.body.media_type == "application/x-www-form-urlencoded"
    assert "To" in create.parameters["required"] and "AccountSid" in create.parameters["required"]
    assert len(create.parameters["properties"]) > 20
    assert [[s.kind for s in alt] for alt in create.security] == [["basic"]]


def test_slack_swagger2_form_data_and_token_are_handled() -> None:
    post = next(
        fn for fn in converted("slack-2.0/slack_web_openapi_v2.json").functions if fn.name == "chat_postMessage"
    )
    assert post.body is not None and post.body.media_type == "application/x-www-form-urlencoded"
    assert "channel" in post.parameters["required"]
    assert "token" not in post.parameters["properties"]
    assert post.security and post.security[0][0].kind == "bearer"


def test_digitalocean_external_refs_are_resolved() -> None:
    functions = converted("digitalocean-3.0-multifile/specification/DigitalOcean-public.v2.yaml").functions
    create = next(fn for fn in functions if fn.operation_id == "droplets_create")
    assert create.body is not None and create.body.whole_arg == "body"
    branches = create.parameters["properties"]["body"]["anyOf"]
    assert [b["required"][0] for b in branches] == ["name", "names"]
    assert "region" in branches[0]["properties"]
    listing = next(fn for fn in functions if fn.operation_id == "droplets_list")
    assert {"per_page", "page", "tag_name"} <= set(listing.parameters["properties"])


def test_openai_spec_huge_bodies_are_shortened_with_a_note() -> None:
    functions = converted("openai-3.1/openapi.yaml").functions
    response = next(fn for fn in functions if fn.operation_id == "createResponse")
    assert response.schema_note is not None
    assert response.size_chars < 2 * MAX_SCHEMA_CHARS
