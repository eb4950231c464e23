"""The notes service over HTTP: CRUD, run scoping, tags, paging, ranked search, bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import RunningServer
from tests.tools.conftest import StartService, client


@pytest.fixture(scope="module")
def notes(start_service: StartService) -> RunningServer:
    return start_service("notes")


@pytest.fixture
def http(notes: RunningServer) -> httpx.Client:
    return client(notes)


def _create(http: httpx.Client, **fields: object) -> dict[str, object]:
    response = http.post("/notes", json=fields)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def test_create_then_get_returns_the_same_note(http: httpx.Client) -> None:
    created = _create(
        http, title="Trip plan", content="Train to Lyon at 9:12", tags=["travel", "travel"], run_id="run-get"
    )
    assert created["tags"] == ["travel"]
    fetched = http.get(f"/notes/{created['id']}").json()
    assert fetched == created


def test_list_filters_by_run_and_tag_and_pages_newest_first(http: httpx.Client) -> None:
    ids = [
        _create(http, title=f"n{i}", tags=["even" if i % 2 == 0 else "odd"], run_id="run-list")["id"] for i in range(5)
    ]
    _create(http, title="other run", run_id="run-other")
    first = http.get("/notes", params={"run_id": "run-list", "limit": 2}).json()
    assert [n["id"] for n in first["items"]] == [ids[4], ids[3]]
    assert first["total"] == 5 and first["next_offset"] == 2
    last = http.get("/notes", params={"run_id": "run-list", "limit": 2, "offset": 4}).json()
    assert [n["id"] for n in last["items"]] == [ids[0]] and last["next_offset"] is None
    even = http.get("/notes", params={"run_id": "run-list", "tag": "even"}).json()
    assert [n["id"] for n in even["items"]] == [ids[4], ids[2], ids[0]]


def test_search_ranks_title_matches_above_passing_mentions(http: httpx.Client) -> None:
    mention = _create(http, title="Shopping", content="also check the budget later", run_id="run-search")
    focused = _create(http, title="Budget for groceries", content="budget is 120 EUR a week", run_id="run-search")
    _create(http, title="Unrelated", content="the cat sat on the mat", run_id="run-search")
    result = http.get("/notes/search", params={"q": "budgets", "run_id": "run-search"}).json()
    assert [hit["id"] for hit in result["items"]] == [focused["id"], mention["id"]]
    assert result["items"][0]["relevance"] > result["items"][1]["relevance"] > 0
    assert "[budget]" in result["items"][0]["snippet"]


def test_search_treats_fts_operators_as_plain_words(http: httpx.Client) -> None:
    _create(http, title="near and far", content="NEAR OR AND", run_id="run-ops")
    response = http.get("/notes/search", params={"q": 'NEAR( "or* ^AND', "run_id": "run-ops"})
    assert response.status_code == 200
    assert response.json()["total"] == 1


def test_search_without_any_word_is_422(http: httpx.Client) -> None:
    response = http.get("/notes/search", params={"q": "?!* --"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "q"]


def test_update_changes_given_fields_and_reindexes(http: httpx.Client) -> None:
    note = _create(http, title="Draft", content="zebra", tags=["a"], run_id="run-update")
    updated = http.patch(f"/notes/{note['id']}", json={"content": "giraffe", "tags": ["b"]}).json()
    assert (updated["title"], updated["content"], updated["tags"]) == ("Draft", "giraffe", ["b"])
    assert http.get("/notes/search", params={"q": "zebra", "run_id": "run-update"}).json()["total"] == 0
    assert http.get("/notes/search", params={"q": "giraffe", "run_id": "run-update"}).json()["total"] == 1
    assert http.get("/notes", params={"run_id": "run-update", "tag": "a"}).json()["total"] == 0


def test_update_with_nothing_to_change_keeps_the_note(http: httpx.Client) -> None:
    note = _create(http, title="Static")
    response = http.patch(f"/notes/{note['id']}", json={"title": None})
    assert response.status_code == 200
    assert response.json() == note


def test_delete_removes_note_and_its_search_entry(http: httpx.Client) -> None:
    note = _create(http, title="Ephemeral quokka", run_id="run-delete")
    assert http.delete(f"/notes/{note['id']}").json() == {"id": note["id"], "deleted": True}
    assert http.get(f"/notes/{note['id']}").status_code == 404
    assert http.get("/notes/search", params={"q": "quokka", "run_id": "run-delete"}).json()["total"] == 0


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_unknown_id_is_404_naming_it(http: httpx.Client, method: str) -> None:
    kwargs = {"json": {"title": "x"}} if method == "PATCH" else {}
    response = http.request(method, "/notes/note_missing", **kwargs)  # type: ignore[arg-type]
    assert response.status_code == 404
    assert response.json() == {"detail": "note 'note_missing' not found"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": 12}, "title"),
        ({"title": "ok", "tags": "not-a-list"}, "tags"),
        ({"title": "ok", "tags": ["has space"]}, "tags"),
        ({"title": "   "}, "title"),
        ({"title": "ok", "colour": "red"}, "colour"),
        ({"content": "no title"}, "title"),
    ],
)
def test_invalid_note_is_422_naming_the_field(http: httpx.Client, body: dict[str, object], field: str) -> None:
    response = http.post("/notes", json=body)
    assert response.status_code == 422
    assert field in {str(part) for problem in response.json()["detail"] for part in problem["loc"]}


def test_malformed_json_is_422(http: httpx.Client) -> None:
    response = http.post("/notes", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422


def test_wrong_query_types_are_422(http: httpx.Client) -> None:
    assert http.get("/notes", params={"limit": "many"}).status_code == 422
    assert http.get("/notes", params={"limit": 0}).status_code == 422


def test_oversized_body_is_413_with_a_clear_message(http: httpx.Client) -> None:
    response = http.post("/notes", json={"title": "big", "content": "x" * 300_000})
    assert response.status_code == 413
    assert "larger than the limit" in response.json()["detail"]


def test_oversized_chunked_body_is_413(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 10_000

    response = http.post("/notes", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_missing_or_wrong_api_key_is_401(notes: RunningServer) -> None:
    assert client(notes, api_key=None).get("/notes").status_code == 401
    wrong = client(notes, api_key="nope").get("/notes")
    assert wrong.status_code == 401 and "invalid" in wrong.json()["detail"]


def test_healthz_needs_no_key(notes: RunningServer) -> None:
    assert client(notes, api_key=None).get("/healthz").json() == {"status": "ok"}


def test_idempotency_key_returns_first_response_without_acting_twice(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "run-idem:call-1"}
    first = http.post("/notes", json={"title": "once", "run_id": "run-idem"}, headers=headers)
    second = http.post("/notes", json={"title": "once", "run_id": "run-idem"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert http.get("/notes", params={"run_id": "run-idem"}).json()["total"] == 1


def test_idempotency_key_reused_for_another_body_is_409(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "reuse-1"}
    assert http.post("/notes", json={"title": "a"}, headers=headers).status_code == 201
    response = http.post("/notes", json={"title": "b"}, headers=headers)
    assert response.status_code == 409
    assert "different request" in response.json()["detail"]


def test_failed_request_does_not_consume_its_idempotency_key(http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "delete-later"}
    assert http.delete("/notes/note_nothing", headers=headers).status_code == 404
    note = _create(http, title="late")
    assert http.delete(f"/notes/{note['id']}", headers={"Idempotency-Key": "delete-now"}).status_code == 200
    again = http.delete(f"/notes/{note['id']}", headers={"Idempotency-Key": "delete-now"})
    assert again.status_code == 200 and again.json()["deleted"] is True


def test_replay_needs_the_api_key(notes: RunningServer, http: httpx.Client) -> None:
    headers = {"Idempotency-Key": "secret-replay"}
    assert http.post("/notes", json={"title": "private"}, headers=headers).status_code == 201
    stranger = client(notes, api_key="wrong").post("/notes", json={"title": "private"}, headers=headers)
    assert stranger.status_code == 401


def test_idempotency_survives_a_restart(start_service: StartService, tmp_path: Path) -> None:
    db = tmp_path / "restart.sqlite3"
    server = start_service("notes", db=db)
    body, headers = {"title": "durable", "run_id": "run-restart"}, {"Idempotency-Key": "crash-retry"}
    first = client(server).post("/notes", json=body, headers=headers).json()
    server.kill()
    again = start_service("notes", db=db)
    second = client(again).post("/notes", json=body, headers=headers).json()
    assert second == first
    assert client(again).get("/notes", params={"run_id": "run-restart"}).json()["total"] == 1


def test_without_configured_key_requests_are_refused_and_startup_warns(start_service: StartService) -> None:
    server = start_service("notes", api_key=None, API_KEY="")
    response = client(server).get("/notes")
    assert response.status_code == 401 and "no API key configured" in response.json()["detail"]
    assert client(server, api_key=None).get("/healthz").status_code == 200
    assert "no API key configured" in server.log()


def test_logs_are_json_lines_without_secrets(notes: RunningServer, http: httpx.Client) -> None:
    import json

    http.post("/notes", json={"title": "classified-title"}, headers={"Idempotency-Key": "log-key"})
    records = [json.loads(line) for line in notes.log().splitlines() if line.startswith("{")]
    assert any(r.get("path") == "/notes" and r.get("status") == 201 for r in records)
    assert "test-key-0123456789" not in notes.log() and "classified-title" not in notes.log()


def test_wrong_method_lists_every_allowed_method(http: httpx.Client) -> None:
    response = http.put("/notes/note_x", json={})
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, PATCH"


RUN = "X-Toolmesh-Run-Id"


def test_a_run_sees_and_changes_only_its_own_notes(http: httpx.Client) -> None:
    def scoped(run: str) -> dict[str, str]:
        return {RUN: run}

    theirs = http.post(
        "/notes", json={"title": "Vault", "content": "the vault code is 4711"}, headers=scoped("run-victim")
    ).json()
    assert theirs["run_id"] == "run-victim"
    # A run cannot file a note under another run, nor find, read, change or delete that run's notes.
    planted = http.post("/notes", json={"title": "Planted", "run_id": "run-victim"}, headers=scoped("run-thief"))
    assert planted.json()["run_id"] == "run-thief"
    own = http.get("/notes", params={"limit": 100}, headers=scoped("run-thief")).json()
    assert [n["title"] for n in own["items"]] == ["Planted"]
    assert http.get("/notes", params={"run_id": "run-victim"}, headers=scoped("run-thief")).json()["total"] == 0
    for params in ({}, {"run_id": "run-victim"}):
        found = http.get("/notes/search", params={"q": "vault code", **params}, headers=scoped("run-thief")).json()
        assert found["items"] == [] and found["total"] == 0
    note = f"/notes/{theirs['id']}"
    assert http.get(note, headers=scoped("run-thief")).status_code == 404
    assert http.patch(note, json={"content": "changed"}, headers=scoped("run-thief")).status_code == 404
    assert http.delete(note, headers=scoped("run-thief")).status_code == 404
    assert http.get(note, headers=scoped("run-victim")).json()["content"] == "the vault code is 4711"
    hits = http.get("/notes/search", params={"q": "vault"}, headers=scoped("run-victim")).json()["items"]
    assert [h["id"] for h in hits] == [theirs["id"]]
    assert http.get(note).status_code == 200  # a caller outside any run (a person with the key) sees all
