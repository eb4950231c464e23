"""The documented Durable Functions patterns, run by the host in both programming models.

Each test runs against the same orchestrations declared twice: ``apps/patterns`` (v2 model,
decorators on a function app not named ``app``) and ``apps/patterns_v1`` (v1 model,
``function.json`` folders). Outputs and statuses are those the Durable Functions documentation
gives for each pattern; everything goes through HTTP: the apps' own starter functions, the SDK's
client inside them and the management API.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.durable_host.conftest import MGMT, Host, launch_host

MODELS = ["patterns", "patterns_v1"]


@pytest.fixture(scope="module", params=MODELS)
def app_host(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    base = tmp_path_factory.mktemp(request.param)
    running = launch_host(request.param, base / "data", base / "marks", env={"TOOLMESH_EPISODE_ATTEMPTS": "2"})
    yield running
    running.stop()


def _manage(host: Host, instance_id: str, operation: str, **params: str) -> Any:
    with host.client() as client:
        response = client.post(f"/api/instances/{instance_id}/{operation}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _raise(host: Host, instance_id: str, event: str, data: Any) -> None:
    with host.client() as client:
        response = client.post(f"{MGMT}/instances/{instance_id}/raiseEvent/{event}", json=data)
    assert response.status_code == 202, response.text


def test_function_chaining_returns_each_result_in_order(app_host: Host) -> None:
    status = app_host.wait(app_host.start("chaining"))
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


def test_fan_out_fan_in_aggregates_every_parallel_result(app_host: Host) -> None:
    status = app_host.wait(app_host.start("fan_out_fan_in", 10))
    assert (status["runtimeStatus"], status["output"]) == ("Completed", sum(2 * i for i in range(10)))


def test_human_interaction_takes_the_decision_before_the_deadline(app_host: Host) -> None:
    instance_id = app_host.start("approval", {"item": "invoice-7", "timeout_seconds": 60})
    _raise(app_host, instance_id, "ApprovalEvent", {"by": "ada", "ok": True})
    status = app_host.wait(instance_id)
    assert (status["runtimeStatus"], status["output"]) == ("Completed", {"approved": {"by": "ada", "ok": True}})


def test_human_interaction_escalates_when_the_timer_wins(app_host: Host) -> None:
    status = app_host.wait(app_host.start("approval", {"item": "invoice-8", "timeout_seconds": 0.3}))
    assert (status["runtimeStatus"], status["output"]) == ("Completed", "escalated")


def test_monitor_polls_on_a_durable_timer_until_the_job_is_done(app_host: Host) -> None:
    job = {"id": "job-1", "ready_after": 3, "interval_seconds": 0.1, "expiry_seconds": 60}
    status = app_host.wait(app_host.start("monitor", job))
    assert (status["runtimeStatus"], status["output"]) == ("Completed", {"job": "job-1", "checks": 3})
    assert status["customStatus"] == {"checks": 2}


def test_sub_orchestrations_return_into_the_parent(app_host: Host) -> None:
    instance_id = app_host.start("sub_orchestrations")
    status = app_host.wait(instance_id)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {"chain": ["Hello Tokyo!", "Hello Seattle!", "Hello London!"], "totals": [2, 6]}
    child = app_host.status(f"{instance_id}-chain")
    assert (child["name"], child["runtimeStatus"]) == ("chaining", "Completed")


def test_eternal_orchestration_continues_as_new_with_a_fresh_history(app_host: Host) -> None:
    instance_id = app_host.start("eternal")
    status = app_host.wait(instance_id)
    assert (status["runtimeStatus"], status["output"]) == ("Completed", {"rounds": 3, "last": 6})
    assert status["input"] == '{"round": 3}'  # the SDK sends inputs as JSON text: Azure shows a string too
    history = app_host.status(instance_id, showHistory="true")["historyEvents"]
    assert [e["EventType"] for e in history] == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]


def test_suspend_holds_the_instance_with_its_reason_until_resumed(app_host: Host) -> None:
    instance_id = app_host.start("wait_for_go")
    app_host.wait(instance_id, statuses={"Running"})
    _manage(app_host, instance_id, "suspend", reason="maintenance window")
    suspended = app_host.wait(instance_id, statuses={"Suspended"})
    assert suspended["output"] == "maintenance window"
    _raise(app_host, instance_id, "Go", "now")
    assert _manage(app_host, instance_id, "status")["runtimeStatus"] == "Suspended"
    _manage(app_host, instance_id, "resume", reason="window over")
    status = app_host.wait(instance_id)
    assert (status["runtimeStatus"], status["output"]) == ("Completed", "now")


def test_terminate_then_purge_removes_the_instance(app_host: Host) -> None:
    instance_id = app_host.start("wait_for_go")
    _manage(app_host, instance_id, "terminate", reason="no longer needed")
    status = app_host.wait(instance_id)
    assert (status["runtimeStatus"], status["output"]) == ("Terminated", "no longer needed")
    assert _manage(app_host, instance_id, "purge") == 1
    assert _manage(app_host, instance_id, "status") is None
    with app_host.client() as client:
        assert client.get(f"{MGMT}/instances/{instance_id}").status_code == 404


def test_instance_queries_page_with_top_and_the_continuation_header(app_host: Host) -> None:
    ids = {app_host.start("fan_out_fan_in", 1, instance_id=f"paged-{n}") for n in range(5)}
    pages: list[list[str]] = []
    token = None
    with app_host.client() as client:
        while True:
            headers: dict[str, str] = {"x-ms-continuation-token": token} if token else {}
            response = client.get(
                f"{MGMT}/instances/", params={"instanceIdPrefix": "paged-", "top": "2"}, headers=headers
            )
            assert response.status_code == 200
            pages.append([s["instanceId"] for s in response.json()])
            token = response.headers["x-ms-continuation-token"]
            if not token:
                break
        assert [len(p) for p in pages] == [2, 2, 1]
        assert {i for page in pages for i in page} == ids
        forged = base64.urlsafe_b64encode(b"not a token").decode()
        bad = client.get(f"{MGMT}/instances/", headers={"x-ms-continuation-token": forged})
        assert bad.status_code == 400
        assert "x-ms-continuation-token" in bad.json()["ExceptionMessage"]


def test_default_page_holds_one_hundred_instances_as_on_azure(app_host: Host) -> None:
    with app_host.client() as client:
        for n in range(101):
            client.post(f"{MGMT}/orchestrators/wait_for_go/hundred-{n}").raise_for_status()
        first = client.get(f"{MGMT}/instances/", params={"instanceIdPrefix": "hundred-"})
        assert len(first.json()) == 100
        token = first.headers["x-ms-continuation-token"]
        rest = client.get(
            f"{MGMT}/instances/", params={"instanceIdPrefix": "hundred-"}, headers={"x-ms-continuation-token": token}
        )
        assert len(rest.json()) == 1
        assert rest.headers["x-ms-continuation-token"] == ""
        for n in range(101):
            client.post(f"{MGMT}/instances/hundred-{n}/terminate").raise_for_status()


def test_an_episode_failing_again_and_again_fails_the_instance(app_host: Host) -> None:
    instance_id = app_host.start("crash")
    status = app_host.wait(instance_id)
    assert status["runtimeStatus"] == "Failed"
    assert status["output"].startswith("Orchestrator function 'crash' failed: the host could not run an episode")
    assert "in 2 attempts" in status["output"]
    assert "HostCrash: the orchestrator crashed past the SDK" in status["output"]
    assert f"instance {instance_id} is poison" in app_host.server.log()


def test_a_wrong_method_on_an_app_route_is_404_as_on_azure(app_host: Host) -> None:
    with app_host.client() as client:
        assert client.get("/api/orchestrators/chaining").status_code == 404
        assert client.delete("/api/instances/x/status").status_code == 404
        assert client.get("/api/instances/unknown-id/status").json() is None


def test_app_routes_need_the_key_in_both_models(app_host: Host) -> None:
    assert httpx.post(app_host.url + "/api/orchestrators/chaining").status_code == 401
