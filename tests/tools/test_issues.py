"""The issues service over HTTP: projects, issue lifecycle, search, comments, bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.servers import RunningServer
from tests.tools.conftest import StartService, client


@pytest.fixture(scope="module")
def issues(start_service: StartService) -> RunningServer:
    return start_service("issues")


@pytest.fixture
def http(issues: RunningServer) -> httpx.Client:
    return client(issues)


def _project(http: httpx.Client, key: str) -> None:
    response = http.post("/projects", json={"key": key, "name": f"Project {key}"})
    assert response.status_code == 201, response.text


def _issue(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = http.post("/issues", json=fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_issues_are_numbered_per_project(http: httpx.Client) -> None:
    _project(http, "NUM")
    _project(http, "ALT")
    assert _issue(http, project="NUM", title="first")["id"] == "NUM-1"
    assert _issue(http, project="ALT", title="other")["id"] == "ALT-1"
    second = _issue(http, project="NUM", title="second", labels=["bug"], priority="high", assignee="dana")
    assert second["id"] == "NUM-2"
    assert (second["state"], second["priority"], second["assignee"], second["labels"]) == (
        "todo",
        "high",
        "dana",
        ["bug"],
    )
    project = http.get("/projects/NUM").json()
    assert (project["open_issues"], project["total_issues"]) == (2, 2)


def test_issue_without_project_goes_to_the_default_project(http: httpx.Client) -> None:
    issue = _issue(http, title="Filed quickly")
    assert issue["project"] == "MAIN" and issue["id"].startswith("MAIN-")
    assert any(p["key"] == "MAIN" for p in http.get("/projects").json()["items"])


def test_default_project_comes_from_the_setting(start_service: StartService) -> None:
    server = start_service("issues", DEFAULT_PROJECT="OPS", DEFAULT_PROJECT_NAME="Operations")
    created = client(server).post("/issues", json={"title": "Disk full"}).json()
    assert created["id"] == "OPS-1"
    assert client(server).get("/projects/OPS").json()["name"] == "Operations"


def test_duplicate_project_key_is_409(http: httpx.Client) -> None:
    _project(http, "DUP")
    response = http.post("/projects", json={"key": "DUP", "name": "again"})
    assert response.status_code == 409 and "already exists" in response.json()["detail"]


def test_issue_in_unknown_project_is_404_naming_it(http: httpx.Client) -> None:
    response = http.post("/issues", json={"project": "NOPE", "title": "x"})
    assert response.status_code == 404
    assert "project 'NOPE' not found" in response.json()["detail"]


def test_list_sorts_by_priority_then_newest_and_filters(http: httpx.Client) -> None:
    _project(http, "LST")
    low = _issue(http, project="LST", title="low", priority="low")
    urgent = _issue(http, project="LST", title="urgent", priority="urgent", labels=["ops"])
    newer_low = _issue(http, project="LST", title="low 2", priority="low", assignee="kim")
    page = http.get("/issues", params={"project": "LST"}).json()
    assert [i["id"] for i in page["items"]] == [urgent["id"], newer_low["id"], low["id"]]
    assert http.get("/issues", params={"project": "LST", "label": "ops"}).json()["total"] == 1
    assert (
        http.get("/issues", params={"project": "LST", "assignee": "kim"}).json()["items"][0]["id"] == (newer_low["id"])
    )
    paged = http.get("/issues", params={"project": "LST", "limit": 2}).json()
    assert paged["next_offset"] == 2 and paged["total"] == 3


def test_search_ranks_title_matches_first(http: httpx.Client) -> None:
    _project(http, "SRC")
    aside = _issue(http, project="SRC", title="Refactor cart", description="the checkout page also flickers")
    focus = _issue(http, project="SRC", title="Checkout total wrong", description="checkout rounds down")
    hits = http.get("/issues/search", params={"q": "checkout", "project": "SRC"}).json()["items"]
    assert [h["id"] for h in hits] == [focus["id"], aside["id"]]
    assert hits[0]["relevance"] > hits[1]["relevance"]


def test_update_changes_fields_unassigns_and_reopens(http: httpx.Client) -> None:
    _project(http, "UPD")
    issue = _issue(http, project="UPD", title="t", assignee="dana")
    updated = http.patch(f"/issues/{issue['id']}", json={"state": "in_progress", "assignee": ""}).json()
    assert (updated["state"], updated["assignee"], updated["title"]) == ("in_progress", None, "t")
    http.post(f"/issues/{issue['id']}/close", json={"resolution": "canceled"})
    reopened = http.patch(f"/issues/{issue['id']}", json={"state": "todo"}).json()
    assert (reopened["state"], reopened["closed_at"]) == ("todo", None)


def test_update_cannot_close_an_issue(http: httpx.Client) -> None:
    _project(http, "NCL")
    issue = _issue(http, project="NCL", title="t")
    response = http.patch(f"/issues/{issue['id']}", json={"state": "done"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "state"]


def test_comment_then_close_shows_in_issue_detail(http: httpx.Client) -> None:
    _project(http, "CMT")
    issue = _issue(http, project="CMT", title="t")
    comment = http.post(f"/issues/{issue['id']}/comments", json={"body": "Reproduced."})
    assert comment.status_code == 201 and comment.json()["author"] == "agent"
    closed = http.post(f"/issues/{issue['id']}/close", json={"comment": "Fixed."}).json()
    assert closed["state"] == "done" and closed["closed_at"] is not None
    detail = http.get(f"/issues/{issue['id']}").json()
    assert [c["body"] for c in detail["comments"]] == ["Reproduced.", "Fixed."]
    assert detail["comment_count"] == 2
    assert http.get("/projects/CMT").json()["open_issues"] == 0


def test_closing_a_closed_issue_is_409(http: httpx.Client) -> None:
    _project(http, "TWC")
    issue = _issue(http, project="TWC", title="t")
    assert http.post(f"/issues/{issue['id']}/close").status_code == 200
    again = http.post(f"/issues/{issue['id']}/close")
    assert again.status_code == 409 and "already closed" in again.json()["detail"]


def test_delete_removes_issue_and_number_is_not_reused(http: httpx.Client) -> None:
    _project(http, "DEL")
    issue = _issue(http, project="DEL", title="t")
    http.post(f"/issues/{issue['id']}/comments", json={"body": "c"})
    assert http.delete(f"/issues/{issue['id']}").json() == {"id": issue["id"], "deleted": True}
    assert http.get(f"/issues/{issue['id']}").status_code == 404
    assert _issue(http, project="DEL", title="next")["id"] == "DEL-2"


@pytest.mark.parametrize("issue_id", ["ENG-999", "not-an-id", "X-99999999999999999999"])
def test_unknown_issue_is_404_naming_it(http: httpx.Client, issue_id: str) -> None:
    response = http.get(f"/issues/{issue_id}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"issue {issue_id!r} not found"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"project": "eng", "title": "t"}, "project"),
        ({"project": "ENG", "title": 5}, "title"),
        ({"project": "ENG", "title": "t", "priority": "p0"}, "priority"),
        ({"project": "ENG", "title": "t", "labels": [1, 2]}, "labels"),
        ({"project": "ENG", "title": "t", "owner": "x"}, "owner"),
    ],
)
def test_invalid_issue_is_422_naming_the_field(http: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = http.post("/issues", json=body)
    assert response.status_code == 422
    assert field in {str(part) for problem in response.json()["detail"] for part in problem["loc"]}


def test_unknown_state_filter_is_422(http: httpx.Client) -> None:
    assert http.get("/issues", params={"state": "open"}).status_code == 422


def test_oversized_body_is_413(http: httpx.Client) -> None:
    response = http.post("/issues", json={"project": "ENG", "title": "t", "description": "x" * 400_000})
    assert response.status_code == 413 and "limit" in response.json()["detail"]


def test_requests_without_key_are_401(issues: RunningServer) -> None:
    assert client(issues, api_key=None).get("/projects").status_code == 401
    assert client(issues, api_key=None).get("/healthz").status_code == 200


def test_idempotent_create_files_one_issue(http: httpx.Client) -> None:
    _project(http, "IDM")
    headers = {"Idempotency-Key": "run-1:call-7"}
    first = http.post("/issues", json={"project": "IDM", "title": "once"}, headers=headers).json()
    second = http.post("/issues", json={"project": "IDM", "title": "once"}, headers=headers).json()
    assert first == second
    assert http.get("/issues", params={"project": "IDM"}).json()["total"] == 1


def test_destructive_operations_require_approval_in_the_spec(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    approval = {
        op["operationId"]: op.get("x-toolmesh-approval") for item in spec["paths"].values() for op in item.values()
    }
    assert approval["closeIssue"] == approval["deleteIssue"] == "required"
    assert approval["createIssue"] is None and approval["commentOnIssue"] is None
