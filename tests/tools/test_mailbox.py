"""The mailbox service over HTTP: messages, replies, durable callback delivery, SSRF guard."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import RunningServer, free_port, start_uvicorn
from tests.tools.conftest import StartService, client

FAST_RETRIES = {"DELIVERY_INITIAL_BACKOFF": "0.1", "DELIVERY_MAX_BACKOFF": "0.4"}


@pytest.fixture(scope="module")
def mailbox(start_service: StartService) -> RunningServer:
    return start_service("mailbox", **FAST_RETRIES)


@pytest.fixture
def http(mailbox: RunningServer) -> httpx.Client:
    return client(mailbox)


@pytest.fixture
def receiver(tmp_path: Path) -> Any:
    server = start_uvicorn("tests.tools.callback_receiver:app", log_path=tmp_path / "receiver.log")
    yield server
    server.stop()


def _send(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"to": "dana@example.com", "subject": "Order?", "body": "Shall I order 12 chairs?", **fields}
    response = http.post("/messages", json=body)
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


def _wait_for(condition: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _received(server: RunningServer) -> list[dict[str, Any]]:
    payload: list[dict[str, Any]] = httpx.get(f"{server.url}/received").json()
    return payload


def test_reply_is_posted_to_the_callback_url(http: httpx.Client, receiver: RunningServer) -> None:
    message = _send(http, callback_url=f"{receiver.url}/api/callbacks/run-1/call-3")
    assert (message["status"], message["delivery"]) == ("awaiting_reply", None)
    replied = http.post(f"/messages/{message['id']}/reply", json={"reply": "Yes, order them."})
    assert replied.status_code == 200
    assert replied.json()["status"] == "replied" and replied.json()["reply_from"] == "dana@example.com"
    [call] = _wait_for(lambda: _received(receiver))
    assert call["path"] == "/api/callbacks/run-1/call-3"
    assert set(call["json"]) == {"message_id", "from", "reply", "replied_at"}
    assert (call["json"]["message_id"], call["json"]["from"], call["json"]["reply"]) == (
        message["id"],
        "dana@example.com",
        "Yes, order them.",
    )
    assert call["idempotency_key"] == f"mailbox-reply-{message['id']}"
    delivery = _wait_for(lambda: http.get(f"/messages/{message['id']}").json()["delivery"]["delivered_at"])
    assert delivery


def test_failed_delivery_is_retried_until_received(http: httpx.Client, tmp_path: Path) -> None:
    receiver = start_uvicorn(
        "tests.tools.callback_receiver:app", log_path=tmp_path / "flaky.log", env={"RECEIVER_FAIL_FIRST": "2"}
    )
    try:
        message = _send(http, callback_url=f"{receiver.url}/cb")
        http.post(f"/messages/{message['id']}/reply", json={"reply": "ok", "from": "lee"})
        [call] = _wait_for(lambda: _received(receiver))
        assert call["json"]["from"] == "lee"
        delivery = _wait_for(lambda: http.get(f"/messages/{message['id']}").json()["delivery"])
        _wait_for(lambda: http.get(f"/messages/{message['id']}").json()["delivery"]["state"] == "delivered")
        final = http.get(f"/messages/{message['id']}").json()["delivery"]
        assert final["attempts"] == 3 and final["last_error"] is None and delivery
    finally:
        receiver.stop()


def test_pending_delivery_survives_a_mailbox_crash(start_service: StartService, tmp_path: Path) -> None:
    db, port = tmp_path / "mailbox.sqlite3", free_port()
    first = start_service("mailbox", db=db, **FAST_RETRIES)
    message = _send(client(first), callback_url=f"http://127.0.0.1:{port}/cb/run-9")
    client(first).post(f"/messages/{message['id']}/reply", json={"reply": "later is fine"})
    failing = _wait_for(lambda: client(first).get(f"/messages/{message['id']}").json()["delivery"]["last_error"])
    assert "Connect" in failing
    first.kill()
    receiver = start_uvicorn("tests.tools.callback_receiver:app", log_path=tmp_path / "late.log", port=port)
    try:
        second = start_service("mailbox", db=db, **FAST_RETRIES)
        [call] = _wait_for(lambda: _received(receiver))
        assert call["json"]["reply"] == "later is fine"
        assert client(second).get(f"/messages/{message['id']}").json()["status"] == "replied"
    finally:
        receiver.stop()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data", "is not allowed"),
        ("http://127.0.0.1.evil.example/cb", "is not allowed"),
        ("http://127.0.0.1@evil.example/cb", "user info"),
        ("https://127.0.0.1/cb", "is not allowed"),
        ("ftp://127.0.0.1/cb", "absolute http or https URL"),
        ("/relative/cb", "absolute http or https URL"),
        ("http://127.0.0.1:99999/cb", "not a valid URL"),
    ],
)
def test_callback_outside_allowed_origins_is_422(http: httpx.Client, url: str, reason: str) -> None:
    response = http.post("/messages", json={"to": "a", "subject": "s", "body": "b", "callback_url": url})
    assert response.status_code == 422
    assert reason in response.json()["detail"]


def test_allowed_origins_come_from_the_setting(start_service: StartService) -> None:
    server = start_service("mailbox", CALLBACK_ALLOWED_ORIGINS="https://orchestrator.example:7071")
    body = {"to": "a", "subject": "s", "body": "b"}
    ok = client(server).post("/messages", json={**body, "callback_url": "https://orchestrator.example:7071/cb"})
    assert ok.status_code == 201
    for url in ("https://orchestrator.example:7072/cb", "http://127.0.0.1:7071/cb"):
        refused = client(server).post("/messages", json={**body, "callback_url": url})
        assert refused.status_code == 422
        assert "https://orchestrator.example:7071" in refused.json()["detail"]


def test_message_without_callback_keeps_its_reply_for_reading(http: httpx.Client) -> None:
    message = _send(http)
    replied = http.post(f"/messages/{message['id']}/reply", json={"reply": "no thanks"}).json()
    assert (replied["reply"], replied["delivery"]) == ("no thanks", None)


def test_second_reply_is_409(http: httpx.Client) -> None:
    message = _send(http)
    assert http.post(f"/messages/{message['id']}/reply", json={"reply": "yes"}).status_code == 200
    again = http.post(f"/messages/{message['id']}/reply", json={"reply": "no"})
    assert again.status_code == 409 and "already has a reply" in again.json()["detail"]


def test_retried_reply_with_the_same_key_is_not_a_conflict(http: httpx.Client) -> None:
    message = _send(http)
    headers = {"Idempotency-Key": "reply-once"}
    first = http.post(f"/messages/{message['id']}/reply", json={"reply": "yes"}, headers=headers)
    second = http.post(f"/messages/{message['id']}/reply", json={"reply": "yes"}, headers=headers)
    assert first.status_code == second.status_code == 200 and first.json() == second.json()


def test_list_filters_by_recipient_and_status(http: httpx.Client) -> None:
    waiting = _send(http, to="list-person")
    answered = _send(http, to="list-person")
    http.post(f"/messages/{answered['id']}/reply", json={"reply": "done"})
    page = http.get("/messages", params={"to": "list-person"}).json()
    assert [m["id"] for m in page["items"]] == [answered["id"], waiting["id"]]
    pending = http.get("/messages", params={"to": "list-person", "status": "awaiting_reply"}).json()
    assert [m["id"] for m in pending["items"]] == [waiting["id"]]


@pytest.mark.parametrize(("method", "path"), [("GET", "/messages/msg_nope"), ("POST", "/messages/msg_nope/reply")])
def test_unknown_message_is_404(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(method, path, json={"reply": "x"} if method == "POST" else None)
    assert response.status_code == 404 and "msg_nope" in response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "s", "body": "b"}, "to"),
        ({"to": "a", "subject": "s", "body": 3}, "body"),
        ({"to": "a", "subject": " ", "body": "b"}, "subject"),
        ({"to": "a", "subject": "s", "body": "b", "cc": "x"}, "cc"),
    ],
)
def test_invalid_message_is_422_naming_the_field(http: httpx.Client, body: dict[str, Any], field: str) -> None:
    response = http.post("/messages", json=body)
    assert response.status_code == 422
    assert field in {str(part) for problem in response.json()["detail"] for part in problem["loc"]}


def test_oversized_message_is_413(http: httpx.Client) -> None:
    response = http.post("/messages", json={"to": "a", "subject": "s", "body": "x" * 300_000})
    assert response.status_code == 413


def test_spec_declares_the_reply_callback_and_its_timeout(http: httpx.Client) -> None:
    operation = http.get("/openapi.json").json()["paths"]["/messages"]["post"]
    assert operation["operationId"] == "sendMessage"
    assert operation["x-toolmesh-callback-timeout"] == 604800
    callback = operation["callbacks"]["reply"]["{$request.body#/callback_url}"]["post"]
    schema_ref = callback["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref.endswith("/ReplyCallback")


def test_delivery_is_abandoned_when_its_origin_is_no_longer_allowed(
    start_service: StartService, tmp_path: Path
) -> None:
    db = tmp_path / "revoked.sqlite3"
    first = start_service("mailbox", db=db, **FAST_RETRIES)
    message = _send(client(first), callback_url=f"http://127.0.0.1:{free_port()}/cb")
    first.stop()
    second = start_service("mailbox", db=db, CALLBACK_ALLOWED_ORIGINS="http://localhost", **FAST_RETRIES)
    client(second).post(f"/messages/{message['id']}/reply", json={"reply": "yes"})
    delivery = _wait_for(
        lambda: (d := client(second).get(f"/messages/{message['id']}").json()["delivery"])["state"] == "failed" and d
    )
    assert "is not allowed" in delivery["last_error"] and delivery["attempts"] == 0


def test_backoff_doubles_up_to_the_ceiling_with_jitter() -> None:
    from tools.mailbox.delivery import backoff_delay

    for attempts, full in ((1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0), (200, 30.0)):
        delays = [backoff_delay(attempts, initial=1.0, ceiling=30.0) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays), (attempts, min(delays), max(delays))


RUN = "X-Toolmesh-Run-Id"


@pytest.mark.parametrize("status", [409, 410])
def test_a_callback_refused_with_409_or_410_is_given_up_at_once(
    http: httpx.Client, receiver: RunningServer, status: int
) -> None:
    message = _send(http, callback_url=f"{receiver.url}/cb/refuse-{status}")
    http.post(f"/messages/{message['id']}/reply", json={"reply": "yes"})
    delivery = _wait_for(
        lambda: (d := http.get(f"/messages/{message['id']}").json()["delivery"])["state"] == "failed" and d
    )
    assert delivery["attempts"] == 0 and f"HTTP {status}" in delivery["last_error"]


def test_a_run_sees_only_its_own_messages_and_no_callback_url(http: httpx.Client, receiver: RunningServer) -> None:
    mine = http.post(
        "/messages",
        json={"to": "dana", "subject": "Mine", "body": "Ok?", "callback_url": f"{receiver.url}/cb/run-a?sig=abc"},
        headers={RUN: "run-a"},
    )
    theirs = http.post("/messages", json={"to": "dana", "subject": "Theirs", "body": "Ok?"}, headers={RUN: "run-b"})
    assert mine.status_code == theirs.status_code == 201
    assert "callback_url" not in mine.json() and mine.json()["has_callback"] is True
    mine_id, theirs_id = mine.json()["id"], theirs.json()["id"]

    listed = http.get("/messages", params={"limit": 100}, headers={RUN: "run-a"}).json()
    assert [m["id"] for m in listed["items"]] == [mine_id] and listed["total"] == 1
    assert "?sig=" not in json.dumps(listed)
    assert http.get(f"/messages/{theirs_id}", headers={RUN: "run-a"}).status_code == 404
    forged = http.post(f"/messages/{theirs_id}/reply", json={"reply": "yes", "from": "dana"}, headers={RUN: "run-a"})
    assert forged.status_code == 404
    assert http.get(f"/messages/{theirs_id}").json()["status"] == "awaiting_reply"  # untouched
    everyone = http.get("/messages", params={"limit": 100}).json()  # a caller outside any run sees all
    assert {mine_id, theirs_id} <= {m["id"] for m in everyone["items"]}
    assert "callback_url" not in json.dumps(everyone)


def test_the_reply_operation_asks_a_person_first_and_the_run_header_is_not_in_the_spec(http: httpx.Client) -> None:
    spec = http.get("/openapi.json").json()
    assert spec["paths"]["/messages/{message_id}/reply"]["post"]["x-toolmesh-approval"] == "required"
    assert RUN.lower() not in json.dumps(spec).lower()
