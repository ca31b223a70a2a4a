"""Placement over two real engines: the devstack's dockerd, and a second
Docker engine the test starts (the build-host image, on the devstack's
network, behind mutual TLS with certificates made here). A request that
names no endpoint goes to the engine running fewer hosts, never to one that
is off; its build host is made inside the second engine (pulled there from
the registry), opens with its owner's bundle, and goes away on removal.

Once: what it proves does not change with the database, and it pulls the
build-host image into a new engine (PostgreSQL's leg runs the placement
test on rows and on one engine)."""

import json

import docker
import pytest

from hosts.certificates import commands as certificates
from hosts.endpoints import probes
from hosts.models import BuildHost, Endpoint
from tests.support import world
from tests.support.buildhost import (
    mutual_tls_client,
    registry_ca_files,
    remove_build_host,
    start_build_host,
    tlsverify_files,
    wait_until_pinged,
    write_client_files,
)
from tests.support.hostcheck import bundle_dir, wait_settled

pytestmark = [
    pytest.mark.integration,
    pytest.mark.once,
    pytest.mark.django_db(transaction=True),
]

# Nothing listens there: every probe is refused at once.
NOBODY = "tcp://127.0.0.1:9"


@pytest.fixture
def second_engine(engine, build_host_image, devstack, tls_world, tmp_path):
    """A second dockerd: its API on a loopback port (mutual TLS, valid for
    "localhost"), its published ports on its address in the devstack's
    network, where the registry is `registry.test` and trusted."""
    files = {
        **tlsverify_files(tls_world["ca"], tls_world["server"], tls_world["client"]),
        **registry_ca_files(devstack["registry"], devstack["registry_ca"]),
    }
    host = start_build_host(engine, build_host_image, devstack["network"], files)
    try:
        cert_dir = write_client_files(
            tmp_path / "second-engine", tls_world["ca"], tls_world["client"]
        )
        url = f"https://localhost:{host.port}"
        wait_until_pinged(url, cert_dir)
        host.container.reload()
        networks = host.container.attrs["NetworkSettings"]["Networks"]
        client = mutual_tls_client(url, cert_dir)
        yield {
            "port": host.port,
            "address": networks[devstack["network"]]["IPAddress"],
            "client": client,
        }
        client.close()
    finally:
        remove_build_host(host.container)


def second_endpoint(admin, devstack, tls_world, second_engine) -> Endpoint:
    ca = certificates.create_certificate(
        admin, "second-ca", tls_world["ca"].cert_pem.decode(), source="cli"
    )
    pair = tls_world["client"]
    client = certificates.create_certificate(
        admin,
        "second-client",
        pair.cert_pem.decode(),
        pair.key_pem.decode(),
        source="cli",
    )
    return Endpoint.objects.create(
        name="second",
        docker_url=f"tcp://localhost:{second_engine['port']}",
        tls_mode=Endpoint.TlsMode.TLSVERIFY,
        ca_certificate=ca,
        client_certificate=client,
        publish_host=second_engine["address"],
        default_image=devstack["image"],
    )


def ask(api, **body):
    return api.post(
        "/api/v1/build-hosts", data=json.dumps(body), content_type="application/json"
    )


def test_a_host_without_an_endpoint_goes_to_the_engine_running_fewer(
    celery_worker,
    devstack,
    endpoint,
    engine,
    second_engine,
    tls_world,
    admin,
    developer,
    tmp_path,
    leftovers,
):
    second = second_endpoint(admin, devstack, tls_world, second_engine)
    dead = world.devstack_endpoint(devstack, name="dead", docker_url=NOBODY)
    for _ in range(probes.FAILURES_BEFORE_OFF):
        probes.probe_endpoint(dead.pk)
    for ready in (endpoint, second):
        assert probes.probe_endpoint(ready.pk).health == Endpoint.Health.ON
    api = world.api_client(developer)

    # The devstack's engine runs one host; the second engine none.
    busy = ask(api, endpoint_id=endpoint.pk, registry_ids=[], name="on-devstack")
    assert busy.status_code == 202, busy.content
    assert wait_settled(BuildHost.objects.get(pk=busy.json()["id"])).is_running

    placed = ask(api, registry_ids=[], name="on-second")
    assert placed.status_code == 202, placed.content
    assert placed.json()["endpoint_id"] == second.pk
    assert placed.json()["placement"] == (
        "any endpoint: second, fewest build hosts running (0 of 10)"
    )
    host = wait_settled(BuildHost.objects.get(pk=placed.json()["id"]))
    assert host.state == BuildHost.State.READY, host.error

    # Made inside the second engine, not the devstack's; its owner's bundle
    # opens it at the second engine's address.
    inside = second_engine["client"].containers.get(host.container_name)
    assert inside.status == "running"
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(host.container_name)
    cert_dir = bundle_dir(host, tmp_path / "bundle")
    owner = mutual_tls_client(
        f"https://{second_engine['address']}:{host.port}", cert_dir
    )
    try:
        assert owner.ping()
    finally:
        owner.close()

    gone = api.delete(f"/api/v1/build-hosts/{host.pk}?volumes=delete")
    assert gone.status_code == 202, gone.content
    assert wait_settled(host).state == BuildHost.State.REMOVED, host.error
    with pytest.raises(docker.errors.NotFound):
        second_engine["client"].containers.get(host.container_name)
