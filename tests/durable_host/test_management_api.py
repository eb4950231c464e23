"""The management API: authentication, status, list, purge and restart (errors: test_management_errors.py)."""

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
        strict = client.get(f"{MGMT}/instances/{failed_id}", params={"returnInternalServerErrorOnFailure": "true"})
        assert strict.status_code == 500


def test_list_filters_validate_and_select(host: Host) -> None:
    instance_id = host.start("hello_sequence", instance_id="listed-one")
    host.wait(instance_id)
    with host.client() as client:
        found = client.get(f"{MGMT}/instances/", params={"instanceIdPrefix": "listed-", "runtimeStatus": "Completed"})
        assert [s["instanceId"] for s in found.json()] == ["listed-one"]
        none = client.get(f"{MGMT}/instances/", params={"instanceIdPrefix": "listed-", "runtimeStatus": "Running"})
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
        again = client.delete(f"{MGMT}/instances/", params=params)
        assert again.status_code == 404 and again.content == b""
        missing_from = client.delete(f"{MGMT}/instances/")
        assert missing_from.status_code == 400
        assert missing_from.json() == "Please provide value for 'createdTimeFrom' parameter."


def test_rpc_base_path_needs_the_per_process_token(host: Host) -> None:
    assert httpx.get(host.url + "/durabletask-rpc/guess/instances/").status_code == 404


def test_restart_starts_a_new_instance_with_the_same_input(host: Host) -> None:
    instance_id = host.start("echo_input", {"x": 5}, instance_id="restart-me")
    host.wait(instance_id)
    with host.client() as client:
        response = client.post(f"{MGMT}/instances/{instance_id}/restart")
        assert response.status_code == 202
        new_id = response.json()["id"]
        assert new_id != instance_id
        same = client.post(f"{MGMT}/instances/{instance_id}/restart", params={"restartWithNewInstanceId": "false"})
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


def test_list_shows_inputs_unless_show_input_is_false(host: Host) -> None:
    instance_id = host.start("echo_input", {"k": 1}, instance_id="list-input-1")
    host.wait(instance_id)
    with host.client() as client:
        shown = client.get(f"{MGMT}/instances/", params={"instanceIdPrefix": "list-input-"}).json()
        hidden = client.get(
            f"{MGMT}/instances/", params={"instanceIdPrefix": "list-input-", "showInput": "False"}
        ).json()
    assert [s["input"] for s in shown] == ['{"k": 1}']  # the SDK encodes its input twice, as on Azure
    assert [s["input"] for s in hidden] == [None]


def test_purge_of_unknown_instance_gets_404_without_body(host: Host) -> None:
    with host.client() as client:
        response = client.delete(f"{MGMT}/instances/never-started")
    assert response.status_code == 404 and response.content == b""
