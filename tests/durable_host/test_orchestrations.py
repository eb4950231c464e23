"""End-to-end behaviour of orchestrations run by the local host (real process, real sockets)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.durable_host.conftest import MGMT, Host


def test_sequence_of_activities_completes_with_outputs(host: Host) -> None:
    status = host.wait(host.start("hello_sequence"))
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Tokyo", "Hello Seattle", "Hello London"]


def test_fan_out_runs_async_activities_in_parallel(host: Host) -> None:
    status = host.wait(host.start("fan_out", 20))
    assert status["output"] == sum(n * 2 for n in range(20))


def test_input_reaches_orchestrator_as_object_when_started_by_sdk_client(host: Host) -> None:
    with host.client() as client:
        response = client.post("/api/orchestrators/echo_input", json={"a": [1, 2]})
    assert response.status_code == 202
    body = response.json()
    assert body["statusQueryGetUri"].startswith(host.url + MGMT + "/instances/")
    assert response.headers["location"] == body["statusQueryGetUri"]
    status = host.wait(body["id"])
    assert status["output"] == {"input": {"a": [1, 2]}, "id": body["id"]}


def test_caught_activity_failure_carries_reason_and_details(host: Host) -> None:
    status = host.wait(host.start("catch_failure"))
    assert status["runtimeStatus"] == "Completed"
    assert status["output"].startswith("caught: Activity function 'fail' failed: boom \n ")
    assert "ValueError: boom" in status["output"]
    assert "invoke.py" not in status["output"]


def test_uncaught_activity_failure_fails_instance_like_the_real_host(host: Host) -> None:
    status = host.wait(host.start("uncaught_failure"))
    assert status["runtimeStatus"] == "Failed"
    assert status["output"].startswith(
        "Orchestrator function 'uncaught_failure' failed: Activity function 'fail' failed: kaput"
    )


def test_orchestrator_exception_fails_instance_with_its_message(host: Host) -> None:
    status = host.wait(host.start("orchestrator_raises"))
    assert status["runtimeStatus"] == "Failed"
    assert status["output"] == "Orchestrator function 'orchestrator_raises' failed: orchestrator says no"


def test_retry_reschedules_until_success(host: Host) -> None:
    status = host.wait(host.start("retry_then_succeed"))
    assert status["output"] == "ok after 3"


def test_retry_surfaces_failure_after_max_attempts(host: Host) -> None:
    status = host.wait(host.start("retry_exhausted"))
    assert status["output"] == "gave up: Activity function 'fail' failed: always "


def test_sub_orchestrations_complete_and_fail_into_parent(host: Host) -> None:
    instance_id = host.start("parent", instance_id="parent-1")
    status = host.wait(instance_id)
    assert status["output"]["first"] == ["Hello Tokyo", "Hello Seattle", "Hello London"]
    assert status["output"]["second"] == 6
    assert status["output"]["failure"].startswith("Orchestrator function 'uncaught_failure' failed:")
    child = host.status("parent-1-child")
    assert child["runtimeStatus"] == "Completed"


def test_custom_status_is_reported(host: Host) -> None:
    status = host.wait(host.start("custom_status_steps"))
    assert status["customStatus"] == {"step": 2}
    assert status["output"] == "finished"


def test_continue_as_new_restarts_with_new_input_and_fresh_history(host: Host) -> None:
    instance_id = host.start("counter", {"n": 0, "limit": 4})
    status = host.wait(instance_id)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == 4
    history = host.status(instance_id, showHistory="true")["historyEvents"]
    scheduled_inputs = [e for e in history if e["EventType"] == "TaskCompleted"]
    assert len(scheduled_inputs) == 1  # only the last execution's history survives


def test_timer_fires_after_its_due_time(host: Host) -> None:
    started = time.monotonic()
    status = host.wait(host.start("timer_then_done", 1))
    assert status["output"] == "done"
    assert time.monotonic() - started >= 0.9


def test_external_event_from_direct_post_arrives_as_object(host: Host) -> None:
    instance_id = host.start("wait_event")
    assert host.wait(instance_id, statuses={"Running"})["customStatus"] == "waiting"
    with host.client() as client:
        response = client.post(f"{MGMT}/instances/{instance_id}/raiseEvent/Approval", json={"ok": True})
    assert response.status_code == 202
    status = host.wait(instance_id)
    assert status["output"] == {"got": {"ok": True}}
    assert status["customStatus"] == "approved"


def test_external_event_from_sdk_client_is_double_encoded_as_on_azure(host: Host) -> None:
    instance_id = host.start("wait_event")
    with host.client() as client:
        response = client.post(f"/api/client/{instance_id}/raise", json={"name": "Approval", "data": {"ok": 1}})
    assert response.status_code == 200, response.text
    assert host.wait(instance_id)["output"] == {"got": '{"ok": 1}'}


def test_event_raised_before_orchestrator_waits_is_kept(host: Host) -> None:
    instance_id = host.start("wait_event", instance_id="early-event")
    with host.client() as client:
        client.post(f"{MGMT}/instances/{instance_id}/raiseEvent/Approval", json="early")
    assert host.wait(instance_id)["output"] == {"got": "early"}


def test_task_any_event_beats_timer(host: Host) -> None:
    instance_id = host.start("approval_race", 30)
    host.wait(instance_id, statuses={"Running"})
    with host.client() as client:
        client.post(f"{MGMT}/instances/{instance_id}/raiseEvent/Approval", json="yes")
    assert host.wait(instance_id)["output"] == {"approved": "yes"}


def test_task_any_timer_beats_event(host: Host) -> None:
    instance_id = host.start("approval_race", 1)
    assert host.wait(instance_id)["output"] == "timeout"


def test_terminate_stops_a_waiting_instance(host: Host) -> None:
    instance_id = host.start("wait_event")
    host.wait(instance_id, statuses={"Running"})
    with host.client() as client:
        response = client.post(f"/api/client/{instance_id}/terminate")
    assert response.status_code == 200
    status = host.wait(instance_id)
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == "stop please"


def test_suspend_holds_events_until_resume(host: Host) -> None:
    instance_id = host.start("wait_event")
    host.wait(instance_id, statuses={"Running"})
    with host.client() as client:
        assert client.post(f"/api/client/{instance_id}/suspend").status_code == 200
        host.wait(instance_id, statuses={"Suspended"})
        client.post(f"{MGMT}/instances/{instance_id}/raiseEvent/Approval", json=1)
        time.sleep(0.5)
        assert host.status(instance_id)["runtimeStatus"] == "Suspended"
        assert client.post(f"/api/client/{instance_id}/resume").status_code == 200
    assert host.wait(instance_id)["output"] == {"got": 1}


def test_sdk_client_status_purge_and_queries(host: Host) -> None:
    instance_id = host.start("hello_sequence", instance_id="to-purge")
    host.wait(instance_id)
    with host.client() as client:
        status = client.get(f"/api/client/{instance_id}/status").json()
        assert status["runtimeStatus"] == "Completed"
        # The SDK reads "history" but the host sends "historyEvents" (as on Azure): it is dropped.
        assert not status.get("history")
        assert instance_id in client.get(f"/api/client/{instance_id}/all").json()
        assert instance_id in client.get(f"/api/client/{instance_id}/by").json()
        assert client.post(f"/api/client/{instance_id}/purge").json() == 1
        assert client.get(f"{MGMT}/instances/{instance_id}").status_code == 404
        assert client.post(f"/api/client/{instance_id}/purge").json() == 0


def test_wait_for_completion_returns_output_directly(host: Host) -> None:
    with host.client() as client:
        response = client.post("/api/wait/fan_out", json=4)
    assert response.status_code == 200
    assert response.json() == 12


def test_call_http_runs_the_builtin_http_activity(host: Host) -> None:
    status = host.wait(host.start("http_call", f"{host.url}/api/items/7?q=z"))
    assert status["runtimeStatus"] == "Completed", status
    assert status["output"]["status"] == 200
    assert status["output"]["body"]["id"] == 7


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to read CPU time")
def test_idle_host_with_a_pending_timer_does_not_poll(host: Host) -> None:
    instance_id = host.start("timer_then_done", 30)
    host.wait(instance_id, statuses={"Running"})
    time.sleep(0.3)
    before = _cpu_seconds(host.server.process.pid)
    time.sleep(2.0)
    used = _cpu_seconds(host.server.process.pid) - before
    assert used < 0.2, f"idle host used {used:.2f}s of CPU in 2s"
    with host.client() as client:
        client.post(f"{MGMT}/instances/{instance_id}/terminate")
