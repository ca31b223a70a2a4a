"""Build hosts on the devstack engine, provisioned by dchweb's own code.

Every test goes through the real worker and checks the engine itself for
what the host has, or left behind.
"""

import io
import json
import tarfile

import pytest
import requests
from django.test import Client

from hosts.buildhosts import commands as buildhosts
from hosts.buildhosts import provisioning
from hosts.core import installation
from hosts.models import BuildHost
from tests.conftest import LOG_DIR
from tests.support import world
from tests.support.hostcheck import (
    assert_nothing_left,
    bundle_dir,
    engine_objects,
    new_host,
    wait_settled,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def read_file(container, path):
    bits, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as archive:
        member = archive.getmembers()[0]
        return archive.extractfile(member).read()


def test_provisioned_host_is_ready_trusted_and_behind_mutual_tls(
    celery_worker, engine, endpoint, registry, developer, devstack, tmp_path, leftovers
):
    volumes_before = {volume.name for volume in engine.volumes.list()}

    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))

    assert host.state == BuildHost.State.READY, host.error
    assert [step.name for step in host.steps.all()] == list(provisioning.STEPS)
    # The worker's log says so, each line carrying the host's id.
    worker_log = (LOG_DIR / "celery-worker.log").read_text()
    assert f"[build_host={host.pk}] step wait_ready: done" in worker_log
    assert all(step.status == "done" and step.finished_at for step in host.steps.all())
    containers, volumes = engine_objects(engine, host)
    assert [container.name for container in containers] == [host.container_name]
    container = containers[0]
    labels = container.labels
    assert labels["io.dchweb.managed"] == "true"
    assert labels["io.dchweb.installation"] == installation.installation_id()
    assert labels["io.dchweb.build-host"] == str(host.pk)
    assert labels["io.dchweb.owner"] == "alice"
    assert {
        volume.name: volume.attrs["Labels"]["io.dchweb.role"] for volume in volumes
    } == {
        f"{host.container_name}-data": "docker-data",
        f"{host.container_name}-certs": "certs",
    }
    # No anonymous volume: the only new volumes are the two named ones.
    new_volumes = {volume.name for volume in engine.volumes.list()} - volumes_before
    assert new_volumes == set(host.volume_names)
    ca = read_file(container, f"/etc/docker/certs.d/{devstack['registry']}/ca.crt")
    assert ca == devstack["registry_ca"]

    # The owner's bundle opens the API; no certificate, no answer.
    cert_dir = bundle_dir(host, tmp_path / "bundle")
    answer = requests.get(
        f"https://127.0.0.1:{host.port}/_ping",
        cert=(str(cert_dir / "cert.pem"), str(cert_dir / "key.pem")),
        verify=str(cert_dir / "ca.pem"),
        timeout=10,
    )
    assert answer.text == "OK"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(
            f"https://127.0.0.1:{host.port}/_ping",
            verify=str(cert_dir / "ca.pem"),
            timeout=10,
        ).raise_for_status()


def test_an_image_that_does_not_exist_fails_at_pull_image_and_leaves_nothing(
    celery_worker, engine, endpoint, registry, developer, devstack, leftovers
):
    missing = f"{devstack['registry']}/default-project/no-such-image:1"

    host = wait_settled(new_host(developer, endpoint, image=missing))

    assert host.state == BuildHost.State.FAILED
    assert host.step == "pull_image"
    assert host.error_reason == "image_not_found"
    assert "image not found" in host.error
    failed = host.steps.get(name="pull_image")
    assert failed.status == "failed" and failed.reason == "image_not_found"
    assert_nothing_left(engine, host)


def test_a_registry_whose_ca_is_withheld_fails_at_verify_registry_with_x509(
    celery_worker, engine, endpoint, developer, devstack, leftovers
):
    untrusted = world.devstack_registry(devstack, with_ca=False)

    host = wait_settled(new_host(developer, endpoint, registry_ids=[untrusted.pk]))

    assert host.state == BuildHost.State.FAILED
    assert host.step == "verify_registry"
    assert host.error_reason == "unknown_authority"
    assert "x509" in host.steps.get(name="verify_registry").error
    assert "does not trust" in host.error
    assert host.steps.get(name="rollback").status == "done"
    assert_nothing_left(engine, host)


@pytest.mark.parametrize(
    ("volumes", "left"), [("delete", 0), ("keep", 2)], ids=["delete", "keep"]
)
def test_remove_leaves_nothing_or_exactly_the_two_labelled_volumes(
    celery_worker, engine, endpoint, registry, developer, volumes, left, leftovers
):
    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    assert host.state == BuildHost.State.READY, host.error

    buildhosts.request_removal(developer, host, volumes, source="api")
    host = wait_settled(host)

    assert host.state == BuildHost.State.REMOVED
    containers, kept = engine_objects(engine, host)
    assert containers == []
    assert len(kept) == left
    assert {v.name for v in kept} == (set(host.volume_names) if left else set())
    assert all(v.attrs["Labels"]["io.dchweb.managed"] == "true" for v in kept)


def api(client, token):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def call(method, path, body=None, **extra):
        kwargs = {**headers, **extra}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(client, method)(f"/api/v1{path}", **kwargs)

    return call


def test_through_the_api_with_an_idempotency_key_and_only_for_its_owner(
    celery_worker,
    engine,
    endpoint,
    registry,
    developer_token,
    other_developer,
    leftovers,
):
    owner = api(Client(), developer_token)
    stranger = api(Client(), world.api_token(other_developer))
    body = {"endpoint_id": endpoint.pk, "registry_ids": [registry.pk], "name": "ci-1"}

    first = owner("post", "/build-hosts", body, HTTP_IDEMPOTENCY_KEY="job-42")
    again = owner("post", "/build-hosts", body, HTTP_IDEMPOTENCY_KEY="job-42")
    other = owner(
        "post", "/build-hosts", {**body, "name": "ci-2"}, HTTP_IDEMPOTENCY_KEY="job-42"
    )

    assert first.status_code == 202, first.content
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_key_reused"
    assert BuildHost.objects.count() == 1
    host = wait_settled(BuildHost.objects.get(pk=first.json()["id"]))
    assert host.state == BuildHost.State.READY, host.error
    shown = owner("get", f"/build-hosts/{host.pk}").json()
    assert shown["state"] == "ready"
    assert shown["docker_host"] == f"tcp://127.0.0.1:{host.port}"
    assert [step["name"] for step in shown["steps"]] == list(provisioning.STEPS)
    assert shown["volumes"] == host.volume_names

    # Another developer: not in the list, and "not found" for everything else.
    assert stranger("get", "/build-hosts").json() == []
    assert stranger("get", f"/build-hosts/{host.pk}").status_code == 404
    assert stranger("get", f"/build-hosts/{host.pk}/tls-bundle").status_code == 404
    assert stranger("delete", f"/build-hosts/{host.pk}").status_code == 404
    assert (
        stranger("post", f"/build-hosts/{host.pk}/extend", {"minutes": 5}).status_code
        == 404
    )
    host.refresh_from_db()
    assert host.state == BuildHost.State.READY
    assert len(engine_objects(engine, host)[0]) == 1

    bundle = owner("get", f"/build-hosts/{host.pk}/tls-bundle")
    assert bundle.status_code == 200
    assert bundle["Content-Type"] == "application/zip"
    removed = owner("delete", f"/build-hosts/{host.pk}?volumes=delete")
    assert removed.status_code == 202 and removed.json()["state"] == "removing"
    assert wait_settled(host).state == BuildHost.State.REMOVED
    assert_nothing_left(engine, host)


def test_an_endpoint_that_does_not_answer_fails_at_the_first_step_and_says_so(
    celery_worker, devstack, developer, leftovers
):
    gone = world.devstack_endpoint(
        devstack, name="gone", docker_url="unix:///nonexistent/dchweb/docker.sock"
    )

    host = wait_settled(new_host(developer, gone))

    assert host.state == BuildHost.State.FAILED
    assert host.step == "pull_image"
    assert host.error_reason == "connection_refused"
    assert host.error.startswith("connection refused")
    # Nothing was made on the engine, so there is nothing to roll back.
    assert [step.name for step in host.steps.all()] == ["pull_image"]
