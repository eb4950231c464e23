"""The run API on the local host answers hostile input with a 4xx, never a 500.

JSON a lenient parser would take (NaN and Infinity literals, lone surrogates, nesting past
Python's recursion limit), and run ids whose percent-encoding would be decoded a second time on
the way to the durable management API ("%2523" arriving as "%23" and leaving as "#").
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.local_mesh import Mesh

DEEP_ARRAY = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 990 + "1" + "}" * 990  # within the parser's depth limit, past Python's
HOSTILE = {
    "nan": '{"objective": "x", "budgets": {"max_iterations": NaN}}',
    "infinity": '{"objective": "x", "budgets": {"deadline_seconds": Infinity}}',
    "lone surrogate": '{"objective": "x", "tools": ["\\ud800"]}',
    "low surrogate first": '{"objective": "\\udc00\\ud800"}',
    "deep array": '{"objective": "x", "tools": ' + DEEP_ARRAY + "}",
    "deep object": '{"objective": "x", "approval": ' + DEEP_OBJECT + "}",
    "deep body": DEEP_ARRAY,
}
ROUTES = ["/api/runs", "/api/runs/some-run/approvals/c1-0-0", "/api/runs/some-run/replies/c1-0-0"]


@pytest.fixture(scope="module")
def run_id(mesh: Mesh) -> str:
    """A finished run, so that an id decoded into the instance list would find something to list."""
    started = mesh.start_run({"objective": "Calculate 2 + 3", "initial_tasks": ["Calculate 2 + 3"]})
    mesh.wait(started)
    return started


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_json_a_lenient_parser_would_take_is_400(mesh: Mesh, route: str, body: str) -> None:
    with mesh.api() as api:
        response = api.post(route, content=body.encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["message"]


@pytest.mark.parametrize("encoded", ["%2523", "%252F", "%2525", "a%252Fb", "%253F", "%2520"])
def test_run_ids_are_decoded_once(mesh: Mesh, run_id: str, encoded: str) -> None:
    with mesh.api() as api:
        assert api.get(f"/api/runs/{run_id}").status_code == 200
        for method, path in [
            ("GET", f"/api/runs/{encoded}"),
            ("POST", f"/api/runs/{encoded}/cancel"),
            ("POST", f"/api/runs/{encoded}/approvals/c1-0-0"),
            ("POST", f"/api/runs/{encoded}/replies/c1-0-0"),
        ]:
            response = api.request(method, path, json={"approve": True, "reply": "yes"})
            assert response.status_code == 404, (method, path, response.text)
            assert "no run with id" in response.json()["error"]["message"]
