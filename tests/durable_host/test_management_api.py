"""The management API: authentication, and the status codes the real host gives bad input."""

from __future__ import annotations

import httpx

from tests.durable_host.conftest import KEY, MGMT, Host


def test_management_api_requires_the_functions_key(host: Host) -> None:
    response = httpx.get(host.url + f"{MGMT}/instances/")
    assert response.status_code == 401
    wrong = httpx.get(host.url + f"{MGMT}/instances/", headers={"x-functions-key": "nope"})
    assert wrong.status_code == 401
    by_query = httpx.get(host.url + f"{MGMT}/instances/", params={"code": KEY})
    assert by_query.status_code == 200


def test_unknown_instance_gets_404_everywhere(host: Host) -> None:
    with host.client() as client:
        assert client.get(f"{MGMT}/instances/missing").status_code == 404
        assert client.post(f"{MGMT}/instances/missing/raiseEvent/E", json=1).status_code == 404
        assert client.post(f"{MGMT}/instances/missing/terminate").status_code == 404
        assert client.post(f"{MGMT}/instances/missing/suspend").status_code == 404
        assert client.post(f"{MGMT}/instances/missing/resume").status_code == 404
        assert client.delete(f"{MGMT}/instances/missing").status_code == 404


def test_malformed_json_body_gets_400_naming_the_problem(host: Host) -> None:
    instance_id = host.start("wait_event")
    with host.client() as client:
        response = client.post(
            f"{MGMT}/instances/{instance_id}/raiseEvent/Approval",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400
        assert "not valid JSON" in response.json()["Message"]
        started = client.post(f"{MGMT}/orchestrators/echo_input", content=b"[1,")
        assert started.status_code == 400
        client.post(f"{MGMT}/instances/{instance_id}/terminate")


def test_event_for_completed_instance_gets_410(host: Host) -> None:
    instance_id = host.start("hello_sequence")
    host.wait(instance_id)
    with host.client() as client:
        assert client.post(f"{MGMT}/instances/{instance_id}/raiseEvent/E", json=1).status_code == 410
        assert client.post(f"{MGMT}/instances/{instance_id}/terminate").status_code == 410
        assert client.post(f"{MGMT}/instances/{instance_id}/suspend").status_code == 410


def test_duplicate_instance_id_of_active_instance_gets_409(host: Host) -> None:
    with host.client() as client:
        first = client.post(f"{MGMT}/orchestrators/wait_event/dup-1")
        assert first.status_code == 202
        second = client.post(f"{MGMT}/orchestrators/wait_event/dup-1")
        assert second.status_code == 409
        assert "already exists" in second.json()["Message"]
        client.post(f"{MGMT}/instances/dup-1/terminate")
    host.wait("dup-1")
    with host.client() as client:
        again = client.post(f"{MGMT}/orchestrators/hello_sequence/dup-1")
    assert again.status_code == 202  # a finished instance id may be reused
    assert host.wait("dup-1")["name"] == "hello_sequence"


def test_invalid_instance_id_and_unknown_orchestrator_get_400(host: Host) -> None:
    with host.client() as client:
        assert client.post(f"{MGMT}/orchestrators/hello_sequence/@entity").status_code == 400
        assert client.post(f"{MGMT}/orchestrators/hello_sequence/a%23b").status_code == 400
        response = client.post(f"{MGMT}/orchestrators/no_such_orchestrator")
        assert response.status_code == 400
        assert "no_such_orchestrator" in response.json()["Message"]


def test_status_codes_follow_runtime_status(host: Host) -> None:
    instance_id = host.start("wait_event")
    host.wait(instance_id, statuses={"Running"})
    with host.client() as client:
        running = client.get(f"{MGMT}/instances/{instance_id}")
        assert running.status_code == 202
        assert running.headers["location"].startswith(host.url)
        client.post(f"{MGMT}/instances/{instance_id}/raiseEvent/Approval", json=True)
        host.wait(instance_id)
        assert client.get(f"{MGMT}/instances/{instance_id}").status_code == 200
    failed_id = host.start("orchestrator_raises")
    host.wait(failed_id)
    with host.client() as client:
        assert client.get(f"{MGMT}/instances/{failed_id}").status_code == 200
        strict = client.get(
            f"{MGMT}/instances/{failed_id}", params={"returnInternalServerErrorOnFailure": "true"}
        )
        assert strict.status_code == 500


def test_list_filters_validate_and_select(host: Host) -> None:
    instance_id = host.start("hello_sequence", instance_id="listed-one")
    host.wait(instance_id)
    with host.client() as client:
        found = client.get(
            f"{MGMT}/instances/", params={"instanceIdPrefix": "listed-", "runtimeStatus": "Completed"}
        )
        assert [s["instanceId"] for s in found.json()] == ["listed-one"]
        none = client.get(
            f"{MGMT}/instances/", params={"instanceIdPrefix": "listed-", "runtimeStatus": "Running"}
        )
        assert none.json() == []
        bad = client.get(f"{MGMT}/instances/", params={"runtimeStatus": "Sleeping"})
        assert bad.status_code == 400
        bad_time = client.get(f"{MGMT}/instances/", params={"createdTimeFrom": "yesterday"})
        assert bad_time.status_code == 400


def test_purge_by_filter_deletes_matching_and_404s_when_none(host: Host) -> None:
    instance_id = host.start("hello_sequence", instance_id="purge-by-1")
    host.wait(instance_id)
    with host.client() as client:
        params = {"createdTimeFrom": "2000-01-01T00:00:00Z", "runtimeStatus": "Completed"}
        response = client.delete(f"{MGMT}/instances/", params=params)
        assert response.status_code == 200
        assert response.json()["instancesDeleted"] >= 1
        assert client.get(f"{MGMT}/instances/{instance_id}").status_code == 404
        assert client.delete(f"{MGMT}/instances/", params=params).status_code == 404
        assert client.delete(f"{MGMT}/instances/").status_code == 400


def test_rpc_base_path_needs_the_per_process_token(host: Host) -> None:
    assert httpx.get(host.url + "/durabletask-rpc/guess/instances/").status_code == 404


def test_entities_and_rewind_are_reported_as_unsupported(host: Host) -> None:
    instance_id = host.start("orchestrator_raises")
    host.wait(instance_id)
    with host.client() as client:
        assert client.post(f"{MGMT}/instances/{instance_id}/rewind").status_code == 501
        assert client.get(f"{MGMT}/entities/counter/one").status_code == 501


def test_restart_starts_a_new_instance_with_the_same_input(host: Host) -> None:
    instance_id = host.start("echo_input", {"x": 5}, instance_id="restart-me")
    host.wait(instance_id)
    with host.client() as client:
        response = client.post(f"{MGMT}/instances/{instance_id}/restart")
        assert response.status_code == 202
        new_id = response.json()["id"]
        assert new_id != instance_id
        same = client.post(
            f"{MGMT}/instances/{instance_id}/restart", params={"restartWithNewInstanceId": "false"}
        )
        assert same.status_code == 202
    assert host.wait(new_id)["output"]["input"] == {"x": 5}
    assert host.wait(instance_id)["output"] == {"input": {"x": 5}, "id": instance_id}


def test_sdk_client_reads_our_status_codes_as_it_reads_azure(host: Host) -> None:
    done = host.start("hello_sequence")
    host.wait(done)
    with host.client() as client:
        # 404 on status: the SDK returns an empty (falsy) status instead of raising.
        assert client.get("/api/client/never-started/status").json() in (None, {})
        # 410 on terminate of a finished instance: the SDK treats it as success.
        assert client.post(f"/api/client/{done}/terminate").json() == "ok"
        # 404 on raise_event: the SDK raises, so the HTTP function fails.
        missing = client.post("/api/client/never-started/raise", json={"name": "E", "data": 1})
        assert missing.status_code == 500
