"""Hostile and broken specs give clear errors or load within bounded time and memory."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from openapi_engine import SpecLoadError, convert_document, load_and_convert
from tests.support.servers import free_port, start_server


def spec_with_body(schema: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {
            "/things": {
                "post": {
                    "operationId": "createThing",
                    "requestBody": {"content": {"application/json": {"schema": schema}}},
                    "responses": {"200": {"description": "ok"}},
                },
                "get": {"operationId": "listThings", "responses": {"200": {"description": "ok"}}},
            }
        },
        **(extra or {}),
    }


def write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


@pytest.mark.parametrize("ref", ["/etc/passwd", "../../../../../../etc/passwd#/x", "file:///etc/passwd"])
def test_ref_outside_the_spec_folder_is_refused(tmp_path: Path, ref: str) -> None:
    path = write(tmp_path / "spec", "openapi.json", spec_with_body({"$ref": ref}))
    result = load_and_convert(str(path))
    assert [fn.name for fn in result.functions] == ["listThings"]
    (problem,) = result.problems
    assert problem.operation == "createThing" and problem.pointer == "/paths/~1things/post"
    assert "leaves the spec's folder" in problem.reason or "only relative files" in problem.reason


def test_ref_to_another_host_is_refused_unless_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, "openapi.json", spec_with_body({"$ref": "https://evil.example/x.json#/X"}))
    (problem,) = load_and_convert(str(path)).problems
    assert "another host (evil.example)" in problem.reason


def test_url_spec_follows_relative_refs_under_its_root_only() -> None:
    files = {
        "/api/openapi.json": spec_with_body({"$ref": "schemas/thing.json#/Thing"}),
        "/api/schemas/thing.json": {"Thing": {"type": "object", "properties": {"name": {"$ref": "common.json#/Name"}}}},
        "/api/schemas/common.json": {"Name": {"type": "string", "maxLength": 5}},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        body = files.get(request.url.path)
        return httpx.Response(200, json=body) if body is not None else httpx.Response(404)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        result = load_and_convert("http://specs.local/api/openapi.json", client=client)
        create = next(fn for fn in result.functions if fn.name == "createThing")
        assert create.parameters["properties"]["name"] == {"type": "string", "maxLength": 5}
        files["/api/openapi.json"] = spec_with_body({"$ref": "../secret.json#/X"})
        (problem,) = load_and_convert("http://specs.local/api/openapi.json", client=client).problems
        assert "leaves the spec's root" in problem.reason


@pytest.mark.parametrize("ref", ["file:secret.json#/X", "file:///{private}/secret.json#/X", "data:,{}#/X"])
def test_a_url_spec_cannot_reach_local_files_through_a_ref(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ref: str
) -> None:
    """Served over real HTTP; the files it names exist, in the working folder, and stay unread."""
    private = tmp_path / "private"
    secret = {"X": {"type": "object", "properties": {"password": {"type": "string", "const": "hunter2"}}}}
    for name in ("secret.json", "file:secret.json"):
        write(private, name, secret)
    monkeypatch.chdir(private)
    served = tmp_path / "served"
    write(served, "openapi.json", spec_with_body({"$ref": ref.replace("/{private}", str(private))}))
    port = free_port()
    server = start_server(
        ["-m", "http.server", "--bind", "127.0.0.1", "--directory", str(served), str(port)],
        port=port, log_path=tmp_path / "http.log", health_path="/openapi.json",
    )  # fmt: skip
    try:
        result = load_and_convert(f"{server.url}/openapi.json")
    finally:
        server.stop()
    assert [fn.name for fn in result.functions] == ["listThings"]
    (problem,) = result.problems
    assert "only relative files and http(s) URLs are allowed" in problem.reason, problem


def test_multi_file_spec_with_circular_refs_across_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        "models/node.yaml",
        "Node:\n  type: object\n  properties:\n    next: {$ref: 'list.yaml#/List'}\n",
    )
    write(tmp_path, "models/list.yaml", "List:\n  type: array\n  items: {$ref: 'node.yaml#/Node'}\n")
    path = write(tmp_path, "openapi.json", spec_with_body({"$ref": "models/node.yaml#/Node"}))
    result = load_and_convert(str(path))
    assert result.problems == []
    create = next(fn for fn in result.functions if fn.name == "createThing")
    assert create.parameters["properties"]["next"] == {"$ref": "#/$defs/List"}
    assert set(create.parameters["$defs"]) == {"List", "Node"}


def test_deeply_circular_schema_loads_in_bounded_time() -> None:
    n = 2000
    schemas = {
        f"S{i}": {"type": "object", "properties": {"next": {"$ref": f"#/components/schemas/S{(i + 1) % n}"}}}
        for i in range(n)
    }
    spec = spec_with_body({"$ref": "#/components/schemas/S0"}, {"components": {"schemas": schemas}})
    started = time.perf_counter()
    result = convert_document(spec, "circular.json")
    assert time.perf_counter() - started < 20
    create = next(fn for fn in result.functions if fn.name == "createThing")
    assert create.size_chars < 20_000


def test_self_referencing_all_of_does_not_recurse_forever() -> None:
    schemas = {
        "A": {"allOf": [{"$ref": "#/components/schemas/B"}, {"properties": {"a": {"type": "string"}}}]},
        "B": {"allOf": [{"$ref": "#/components/schemas/A"}, {"properties": {"b": {"type": "string"}}}]},
    }
    spec = spec_with_body({"$ref": "#/components/schemas/A"}, {"components": {"schemas": schemas}})
    result = convert_document(spec, "allof.json")
    assert {fn.name for fn in result.functions} == {"createThing", "listThings"}


def test_ref_loop_without_schema_is_reported() -> None:
    schemas = {"A": {"$ref": "#/components/schemas/B"}, "B": {"$ref": "#/components/schemas/A"}}
    spec = spec_with_body({"type": "object"}, {"components": {"schemas": schemas}})
    spec["paths"]["/things"]["post"]["parameters"] = [{"$ref": "#/components/parameters/P"}]
    spec["components"]["parameters"] = {"P": {"$ref": "#/components/parameters/P"}}
    result = convert_document(spec, "loop.json")
    (problem,) = result.problems
    assert "loops back" in problem.reason


def test_ten_thousand_operations_load_in_bounded_time() -> None:
    paths = {
        f"/items{i}/{{id}}": {
            "get": {
                "operationId": f"getItem{i}",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "ok"}},
            }
        }
        for i in range(10_000)
    }
    spec = {"openapi": "3.0.0", "info": {"title": "big", "version": "1"}, "paths": paths}
    started = time.perf_counter()
    result = convert_document(spec, "big.json")
    assert time.perf_counter() - started < 60
    assert len(result.functions) == 10_000 and result.problems == []


def test_invalid_json_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.json", '{"openapi": "3.0.0",\n "paths": {,}}')
    with pytest.raises(SpecLoadError) as caught:
        load_and_convert(str(path))
    assert caught.value.source == str(path)
    assert "invalid JSON at line 2" in str(caught.value)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "openapi: 3.0.0\npaths:\n  /x: [unclosed\n")
    with pytest.raises(SpecLoadError, match=r"invalid YAML at line \d+"):
        load_and_convert(str(path))


def test_deeply_nested_document_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "deep.json", "[" * 200_000 + "]" * 200_000)
    with pytest.raises(SpecLoadError, match="nested too deeply"):
        load_and_convert(str(path))


def test_not_an_openapi_document(tmp_path: Path) -> None:
    path = write(tmp_path, "x.json", {"hello": "world"})
    with pytest.raises(SpecLoadError, match="not an OpenAPI 3.x or Swagger 2.0 document") as caught:
        load_and_convert(str(path))
    assert caught.value.pointer == "/openapi"


def test_missing_file_and_unreachable_url() -> None:
    with pytest.raises(SpecLoadError, match="file not found"):
        load_and_convert("/nonexistent/openapi.json")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)

    with (
        httpx.Client(transport=httpx.MockTransport(handler)) as client,
        pytest.raises(SpecLoadError, match="HTTP 500"),
    ):
        load_and_convert("http://specs.local/openapi.json", client=client)


def test_broken_operation_is_skipped_and_the_rest_loads() -> None:
    spec = spec_with_body({"type": "object", "properties": {"a": {"type": "string"}}})
    spec["paths"]["/things"]["get"]["parameters"] = "not a list"
    spec["paths"]["/broken"] = {"get": {"operationId": "broken", "parameters": [{"in": "nowhere"}]}}
    result = convert_document(spec, "partial.json")
    assert [fn.name for fn in result.functions] == ["createThing"]
    assert {p.operation for p in result.problems} == {"listThings", "broken"}
    assert all(p.reason for p in result.problems)


def test_yaml_1_1_quirks_stay_strings(tmp_path: Path) -> None:
    text = """
openapi: 3.0.0
info: {title: quirks, version: 1.0}
paths:
  /switch:
    get:
      operationId: getSwitch
      parameters:
        - name: state
          in: query
          schema: {type: string, enum: [on, off, yes, no], default: 2020-01-01}
      responses:
        200: {description: ok}
"""
    path = write(tmp_path, "quirks.yaml", text)
    (fn,) = load_and_convert(str(path)).functions
    state = fn.parameters["properties"]["state"]
    assert state["enum"] == ["on", "off", "yes", "no"]
    assert state["default"] == "2020-01-01"


def test_undeclared_path_variables_become_required_arguments() -> None:
    spec = spec_with_body({"type": "object"})
    spec["paths"]["/things/{thing_id}"] = {"get": {"operationId": "getThing", "responses": {}}}
    fn = next(f for f in convert_document(spec, "undeclared.json").functions if f.name == "getThing")
    assert fn.parameters["required"] == ["thing_id"]
    assert [(b.arg, b.location) for b in fn.params] == [("thing_id", "path")]
