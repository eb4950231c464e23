"""Management API errors, status code and body, as HttpApiHandler.cs answers them (a7c6d694).

Each test is one row of the real host's answers: bare 404s for wrong methods and unknown
paths, ArgumentException 400s, the 500 of a duplicate start, the raiseEvent checks in order,
410 for finished instances, and 501 for what this host does not implement.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.durable_host.conftest import MGMT, Host

ARGUMENT_ERROR = "One or more of the arguments submitted is incorrect"


def _argument_error(response: httpx.Response, summary: str = ARGUMENT_ERROR) -> str:
    """Assert the body of a 400 ArgumentException and return its ExceptionMessage."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["Message"] == summary
    assert body["ExceptionType"] == "System.ArgumentException"
    assert body["StackTrace"] is None
    return str(body["ExceptionMessage"])


def _finished(host: Host) -> dict[str, str]:
    """One instance per finished status: {"Completed": id, "Failed": id, "Terminated": id}."""
    ids = {
        "Completed": host.start("hello_sequence"),
        "Failed": host.start("orchestrator_raises"),
        "Terminated": host.start("wait_event"),
    }
    with host.client() as client:
        client.post(f"{MGMT}/instances/{ids['Terminated']}/terminate")
    for status, instance_id in ids.items():
        assert host.wait(instance_id)["runtimeStatus"] == status
    return ids


def _sdk_start(host: Host, name: str, instance_id: str | None = None, value: Any = None) -> dict[str, Any]:
    """Call the unmodified SDK's ``start_new`` through the app; returns ``{"id"}`` or ``{"error"}``."""
    response = httpx.post(
        f"{host.url}/api/client/x/start", json={"name": name, "id": instance_id, "input": value}, timeout=30
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "orchestrators/hello_sequence"),
        ("PUT", "orchestrators/hello_sequence/some-id"),
        ("POST", "instances/{id}"),
        ("PUT", "instances/{id}"),
        ("GET", "instances/{id}/raiseEvent/Approval"),
        ("GET", "instances/{id}/terminate"),
        ("DELETE", "instances/{id}/suspend"),
        ("POST", "instances/{id}/frobnicate"),
        ("POST", "instances/"),
        ("PATCH", "entities/counter/one"),
        ("GET", "nothing/here"),
        ("GET", "instances/{id}/raiseEvent/Approval/extra"),
        ("POST", "orchestrators"),
    ],
)
def test_wrong_method_or_unknown_path_gets_bare_404(host: Host, method: str, path: str) -> None:
    instance_id = host.start("wait_event")
    with host.client() as client:
        response = client.request(method, f"{MGMT}/{path.format(id=instance_id)}", json=1)
        assert response.status_code == 404
        assert response.content == b""
        client.post(f"{MGMT}/instances/{instance_id}/terminate")


def test_unknown_instance_gets_bare_404_everywhere(host: Host) -> None:
    with host.client() as client:
        for response in (
            client.get(f"{MGMT}/instances/missing"),
            client.post(f"{MGMT}/instances/missing/raiseEvent/E", json=1),
            client.post(f"{MGMT}/instances/missing/terminate"),
            client.post(f"{MGMT}/instances/missing/suspend"),
            client.post(f"{MGMT}/instances/missing/resume"),
            client.post(f"{MGMT}/instances/missing/rewind"),
            client.delete(f"{MGMT}/instances/missing"),
        ):
            assert (response.status_code, response.content) == (404, b""), response.request.url


def test_start_of_unknown_orchestrator_gets_400_argument_exception(host: Host) -> None:
    with host.client() as client:
        response = client.post(f"{MGMT}/orchestrators/no_such_orchestrator")
    message = _argument_error(response)
    assert message.startswith(
        "The function 'no_such_orchestrator' doesn't exist, is disabled, or is not an orchestrator function. "
        "Additional info: The following are the known orchestrator functions: 'hello_sequence', "
    )


def test_sdk_start_new_of_unknown_orchestrator_raises_the_exception_message(host: Host) -> None:
    result = _sdk_start(host, "no_such_orchestrator")
    assert result["error"].startswith("The function 'no_such_orchestrator' doesn't exist")


@pytest.mark.parametrize(
    ("encoded_id", "message"),
    [
        ("@entity", "instanceId (Parameter 'Orchestration instance ids must not start with @.')"),
        *[
            (
                bad,
                "instanceId (Parameter 'Orchestration instance ids must not contain /, \\, #, ?, "
                "or control characters.')",
            )
            for bad in ("a%2Fb", "a%5Cb", "a%3Fb", "a%23b", "a%01b", "a%7Fb", "a%C2%85b")
        ],
        ("x" * 257, "Instance ID lengths must not exceed 256 characters."),
    ],
)
def test_invalid_instance_id_gets_400_argument_exception(host: Host, encoded_id: str, message: str) -> None:
    with host.client() as client:
        response = client.post(f"{MGMT}/orchestrators/hello_sequence/{encoded_id}")
    assert _argument_error(response) == message


def test_instance_id_of_256_characters_is_accepted(host: Host) -> None:
    with host.client() as client:
        response = client.post(f"{MGMT}/orchestrators/hello_sequence/{'y' * 256}")
    assert response.status_code == 202
    assert host.wait("y" * 256)["runtimeStatus"] == "Completed"


def test_start_with_body_that_is_not_json_gets_400_invalid_json(host: Host) -> None:
    with host.client() as client:
        response = client.post(f"{MGMT}/orchestrators/echo_input", content=b"[1,")
    assert response.status_code == 400
    body = response.json()
    assert body["Message"] == "Invalid JSON content"
    assert body["ExceptionType"] == "Newtonsoft.Json.JsonReaderException"
    assert "not valid JSON" in body["ExceptionMessage"]


def test_start_with_id_of_active_instance_gets_500_already_exists(host: Host) -> None:
    with host.client() as client:
        assert client.post(f"{MGMT}/orchestrators/wait_event/dup-1").status_code == 202
        host.wait("dup-1", statuses={"Running"})
        second = client.post(f"{MGMT}/orchestrators/wait_event/dup-1")
        assert second.status_code == 500
        assert second.json() == {
            "Message": "Something went wrong while processing your request",
            "ExceptionMessage": "An Orchestration instance with the status Running already exists.",
            "ExceptionType": "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException",
            "StackTrace": None,
        }
        client.post(f"{MGMT}/instances/dup-1/suspend")
        host.wait("dup-1", statuses={"Suspended"})
        suspended = client.post(f"{MGMT}/orchestrators/hello_sequence/dup-1")
        assert (
            suspended.json()["ExceptionMessage"]
            == "An Orchestration instance with the status Suspended already exists."
        )
        client.post(f"{MGMT}/instances/dup-1/terminate")
    host.wait("dup-1")
    with host.client() as client:
        again = client.post(f"{MGMT}/orchestrators/hello_sequence/dup-1")
    assert again.status_code == 202  # a finished instance is replaced
    assert host.wait("dup-1")["name"] == "hello_sequence"


def test_sdk_start_new_on_active_id_raises(host: Host) -> None:
    assert _sdk_start(host, "wait_event", "dup-sdk") == {"id": "dup-sdk"}
    result = _sdk_start(host, "wait_event", "dup-sdk")
    assert "An Orchestration instance with the status" in result["error"]
    assert "OrchestrationAlreadyExistsException" in result["error"]
    with host.client() as client:
        client.post(f"{MGMT}/instances/dup-sdk/terminate")


def test_raise_event_for_finished_instance_gets_bare_410(host: Host) -> None:
    for instance_id in _finished(host).values():
        with host.client() as client:
            response = client.post(f"{MGMT}/instances/{instance_id}/raiseEvent/E", json=1)
        assert (response.status_code, response.content) == (410, b"")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_raise_event_that_is_not_application_json_gets_400(host: Host, content_type: str | None) -> None:
    instance_id = host.start("wait_event")
    headers = {"content-type": content_type} if content_type else {}
    with host.client() as client:
        response = client.post(f"{MGMT}/instances/{instance_id}/raiseEvent/Approval", content=b"1", headers=headers)
        assert response.status_code == 400
        assert response.json() == {"Message": "Only application/json request content is supported"}
        client.post(f"{MGMT}/instances/{instance_id}/terminate")


STRICTLY_NOT_JSON = [b'{"a": NaN}', b'["\\ud800"]', b"[" * 65 + b"]" * 65, b'{"a":' * 990 + b"1" + b"}" * 990]


@pytest.mark.parametrize("body", STRICTLY_NOT_JSON)
def test_start_with_json_a_lenient_parser_takes_gets_400_invalid_json(host: Host, body: bytes) -> None:
    with host.client() as client:
        response = client.post(f"{MGMT}/orchestrators/echo_input", content=body)
    assert response.status_code == 400, response.text
    assert response.json()["Message"] == "Invalid JSON content"


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1,", *STRICTLY_NOT_JSON])
def test_raise_event_with_body_that_is_not_json_gets_400_invalid_json(host: Host, body: bytes) -> None:
    instance_id = host.start("wait_event")
    with host.client() as client:
        response = client.post(
            f"{MGMT}/instances/{instance_id}/raiseEvent/Approval",
            content=body,
            headers={"content-type": "application/json; charset=utf-8"},
        )
        assert response.status_code == 400
        assert response.json()["Message"] == "Invalid JSON content"
        assert response.json()["ExceptionType"] == "Newtonsoft.Json.JsonReaderException"
        client.post(f"{MGMT}/instances/{instance_id}/terminate")


def test_raise_event_with_json_is_accepted_and_delivered(host: Host) -> None:
    instance_id = host.start("wait_event")
    with host.client() as client:
        response = client.post(f"{MGMT}/instances/{instance_id}/raiseEvent/Approval", json={"ok": True})
    assert (response.status_code, response.content) == (202, b"")
    assert host.wait(instance_id)["output"] == {"got": {"ok": True}}


@pytest.mark.parametrize("operation", ["terminate", "suspend", "resume"])
def test_command_gets_202_when_active_and_bare_410_when_finished(host: Host, operation: str) -> None:
    active = host.start("wait_event")
    finished = host.start("orchestrator_raises")
    host.wait(finished)
    with host.client() as client:
        accepted = client.post(f"{MGMT}/instances/{active}/{operation}", params={"reason": "test"})
        gone = client.post(f"{MGMT}/instances/{finished}/{operation}")
        client.post(f"{MGMT}/instances/{active}/terminate")
    assert accepted.status_code == 202
    assert (gone.status_code, gone.content) == (410, b"")


def test_rewind_gets_410_when_completed_or_terminated_else_501(host: Host) -> None:
    finished = _finished(host)
    running = host.start("wait_event")
    with host.client() as client:
        for instance_id in (finished["Completed"], finished["Terminated"]):
            response = client.post(f"{MGMT}/instances/{instance_id}/rewind")
            assert (response.status_code, response.content) == (410, b"")
        for instance_id in (finished["Failed"], running):
            response = client.post(f"{MGMT}/instances/{instance_id}/rewind")
            assert response.status_code == 501
            assert "Rewind is not implemented by the local durable host" in response.json()["Message"]
        client.post(f"{MGMT}/instances/{running}/terminate")


def test_restart_of_unknown_instance_gets_400_as_an_argument_error(host: Host) -> None:
    with host.client() as client:
        response = client.post(f"{MGMT}/instances/never-started/restart")
    message = _argument_error(response, summary="InstanceId does not match a valid orchestration instance.")
    assert message == "An orchestrastion with the instanceId never-started was not found."


def test_entities_are_reported_as_not_implemented(host: Host) -> None:
    with host.client() as client:
        for response in (
            client.get(f"{MGMT}/entities/counter/one"),
            client.post(f"{MGMT}/entities/counter/one", params={"op": "add"}),
            client.get(f"{MGMT}/entities/"),
        ):
            assert response.status_code == 501
            assert "entities" in response.json()["Message"]
