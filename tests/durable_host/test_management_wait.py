"""Start with ``timeout`` and ``pollingInterval``: the host waits for the instance, as the real one does.

``HttpApiHandler.WaitForCompletionOrCreateCheckStatusResponseAsync`` (a7c6d694): Completed is a
200 with the output, Failed/Canceled/Terminated the status response (200), still running at the
timeout the 202 check-status response; the parameters are doubles of seconds.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.durable_host.conftest import MGMT, Host


def _start(host: Host, path: str, timeout: str, interval: str, body: Any = None, **params: str) -> httpx.Response:
    """POST a start (or restart) with ``timeout`` and ``pollingInterval`` query parameters."""
    with host.client() as client:
        return client.post(
            f"{MGMT}/{path}", json=body, params={"timeout": timeout, "pollingInterval": interval, **params}
        )


def test_start_and_wait_for_completed_instance_returns_200_with_output(host: Host) -> None:
    with host.client() as client:
        response = client.post(
            f"{MGMT}/orchestrators/hello_sequence", params={"timeout": "20", "pollingInterval": "0.5"}
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == ["Hello Tokyo", "Hello Seattle", "Hello London"]


def test_start_and_wait_answers_on_completion_not_at_the_timeout(host: Host) -> None:
    began = time.monotonic()
    with host.client() as client:
        response = client.post(
            f"{MGMT}/orchestrators/slow", json="0.3", params={"timeout": "20", "pollingInterval": "20"}
        )
    assert response.status_code == 200 and response.json() == 0.3
    assert time.monotonic() - began < 5


def test_start_and_wait_for_failed_instance_returns_its_status_with_200(host: Host) -> None:
    with host.client() as client:
        response = client.post(
            f"{MGMT}/orchestrators/orchestrator_raises/wait-failed",
            params={"timeout": "20", "pollingInterval": "1", "returnInternalServerErrorOnFailure": "true"},
        )
    assert response.status_code == 200
    body = response.json()
    assert body["instanceId"] == "wait-failed"
    assert body["runtimeStatus"] == "Failed"
    assert "orchestrator says no" in body["output"]
    assert "location" not in response.headers


def test_start_and_wait_for_terminated_instance_returns_its_status(host: Host) -> None:
    def terminate_soon() -> None:
        with host.client() as client:
            while client.get(f"{MGMT}/instances/wait-terminated").status_code == 404:
                time.sleep(0.02)  # not started yet
            client.post(f"{MGMT}/instances/wait-terminated/terminate", params={"reason": "stop"})

    stopper = threading.Thread(target=terminate_soon)
    stopper.start()
    with host.client() as client:
        response = client.post(
            f"{MGMT}/orchestrators/wait_event/wait-terminated", params={"timeout": "20", "pollingInterval": "1"}
        )
    stopper.join()
    assert response.status_code == 200
    assert response.json()["runtimeStatus"] == "Terminated"


def test_start_and_wait_still_running_at_timeout_returns_202_check_status(host: Host) -> None:
    began = time.monotonic()
    with host.client() as client:
        response = client.post(
            f"{MGMT}/orchestrators/wait_event/wait-timeout", params={"timeout": "0.5", "pollingInterval": "0.1"}
        )
        client.post(f"{MGMT}/instances/wait-timeout/terminate")
    assert 0.4 < time.monotonic() - began < 5
    assert response.status_code == 202
    assert response.json()["id"] == "wait-timeout"
    assert response.headers["location"] == response.json()["statusQueryGetUri"]


def test_start_with_timeout_alone_does_not_wait(host: Host) -> None:
    with host.client() as client:
        response = client.post(f"{MGMT}/orchestrators/wait_event/wait-alone", params={"timeout": "30"})
        client.post(f"{MGMT}/instances/wait-alone/terminate")
    assert response.status_code == 202


def test_polling_interval_longer_than_timeout_gets_400_after_the_start(host: Host) -> None:
    response = _start(host, "orchestrators/hello_sequence/wait-bad", "1", "2.5")
    assert response.status_code == 400
    assert response.json()["ExceptionMessage"] == "Total timeout 1 should be bigger than retry timeout 2.5"
    assert host.wait("wait-bad")["runtimeStatus"] == "Completed"  # started before the check, as on Azure


@pytest.mark.parametrize(
    ("timeout", "status", "exception"),
    [
        ("NaN", 400, "TimeSpan does not accept floating point Not-a-Number values."),
        ("1e300", 500, "TimeSpan overflowed because the duration is too long."),
    ],
)
def test_timeout_that_is_no_timespan_gets_the_dotnet_error(
    host: Host, timeout: str, status: int, exception: str
) -> None:
    response = _start(host, "orchestrators/hello_sequence", timeout, "1")
    assert response.status_code == status
    assert response.json()["ExceptionMessage"] == exception


def test_restart_with_timeout_waits_too(host: Host) -> None:
    instance_id = host.start("echo_input", {"x": 1}, instance_id="wait-restart")
    host.wait(instance_id)
    response = _start(host, f"instances/{instance_id}/restart", "20", "1", restartWithNewInstanceId="false")
    assert response.status_code == 200
    assert response.json() == {"input": {"x": 1}, "id": instance_id}
