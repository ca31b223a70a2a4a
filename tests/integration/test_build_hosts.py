"""Build hosts on the devstack engine, provisioned by dchweb's own code.

The lifecycle goes through the real worker; the failure cases call the same
provisioning directly, so each fails at a known step without waiting on a
queue. Every test checks the engine itself for what is left behind.
"""

import io
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
import requests

from hosts import buildhosts, installation, provisioning
from hosts.models import BuildHost
from tests.support import world

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SETTLE_TIMEOUT = 180
WORKER = "test-direct:1"


@pytest.fixture
def endpoint(devstack, build_host_image):
    return world.devstack_endpoint(devstack)


@pytest.fixture
def registry(devstack):
    return world.devstack_registry(devstack)


@pytest.fixture
def developer(django_user_model):
    return world.developer(django_user_model)


@pytest.fixture
def leftovers(engine):
    """Removes whatever this test's installation left on the engine, after
    the test has had its say about it."""
    yield
    label = f"io.dchweb.installation={installation.installation_id()}"
    for container in engine.containers.list(all=True, filters={"label": label}):
        container.remove(force=True, v=True)
    for volume in engine.volumes.list(filters={"label": label}):
        volume.remove(force=True)


def engine_objects(engine, host):
    label = f"io.dchweb.build-host={host.pk}"
    containers = engine.containers.list(all=True, filters={"label": label})
    volumes = engine.volumes.list(filters={"label": label})
    return containers, volumes


def wait_settled(host, timeout=SETTLE_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host.refresh_from_db()
        if host.state in (
            BuildHost.State.READY,
            BuildHost.State.FAILED,
            BuildHost.State.REMOVED,
        ):
            return host
        time.sleep(0.5)
    steps = list(host.steps.values_list("name", "status", "error"))
    pytest.fail(f"build host stayed {host.state} for {timeout} s; steps: {steps}")


def new_host(owner, endpoint, **data):
    host, created = buildhosts.create_build_host(
        owner, {"endpoint_id": endpoint.pk, **data}, source="api"
    )
    assert created
    return host


def read_file(container, path):
    bits, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(bits))) as archive:
        member = archive.getmembers()[0]
        return archive.extractfile(member).read()


def bundle_dir(host, directory: Path):
    """The owner's bundle as the API serves it, unpacked as docker expects."""
    with zipfile.ZipFile(io.BytesIO(buildhosts.tls_bundle(host))) as bundle:
        assert sorted(bundle.namelist()) == ["ca.pem", "cert.pem", "key.pem"]
        bundle.extractall(directory)
    return directory


def test_provisioned_host_is_ready_trusted_and_behind_mutual_tls(
    celery_worker, engine, endpoint, registry, developer, devstack, tmp_path, leftovers
):
    volumes_before = {volume.name for volume in engine.volumes.list()}

    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))

    assert host.state == BuildHost.State.READY, host.error
    assert [step.name for step in host.steps.all()] == list(provisioning.STEPS)
    assert all(step.status == "done" and step.finished_at for step in host.steps.all())
    containers, volumes = engine_objects(engine, host)
    assert [container.name for container in containers] == [host.container_name]
    container = containers[0]
    labels = container.labels
    assert labels["io.dchweb.managed"] == "true"
    assert labels["io.dchweb.installation"] == installation.installation_id()
    assert labels["io.dchweb.build-host"] == str(host.pk)
    assert labels["io.dchweb.owner"] == "dev"
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


def assert_nothing_left(engine, host):
    containers, volumes = engine_objects(engine, host)
    assert [c.name for c in containers] == [], "a container of the host was left"
    assert [v.name for v in volumes] == [], "a volume of the host was left"


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
