"""The warm pool against the devstack engine and a real worker: requests at
once never share a pool host, a claimed host opens with its new owner's
bundle, and the pool fills up again after claims and after a pool host's
container is removed behind dchweb's back; an ephemeral build claims one
too; with the cap full, a request no pool host fits makes one give way.

One test proves all of it on the same hosts: each provisioning costs about
a second, so the pool is made once."""

import threading
import time

import pytest
from django.db import connection
from django.test import Client

from hosts.buildhosts import commands as buildhosts
from hosts.buildhosts import pool, tasks
from hosts.models import Build, BuildHost, Endpoint, Volume
from tests.support.buildhost import mutual_tls_client
from tests.support.builds import post_build, unique_tag, wait_final
from tests.support.contexts import hello_context
from tests.support.hostcheck import bundle_dir, wait_settled
from tests.support.world import api_token

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

POOL_SIZE = 3
AT_ONCE = 10
TIMEOUT_SECONDS = 120
POLL_SECONDS = 0.1


def wait_for_pool(endpoint, ready, leaving=()):
    """The endpoint's free ready pool hosts, once there are `ready` of them,
    none of `leaving` among them, and none still being made."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        free = pool.free_hosts(endpoint).filter(state__in=pool.WAITING_OR_READY)
        states = list(free.values_list("pk", "state"))
        ready_ids = {pk for pk, state in states if state == BuildHost.State.READY}
        settled = len(states) == ready and len(ready_ids) == ready
        if settled and not ready_ids & set(leaving):
            return list(free)
        failed = pool.free_hosts(endpoint).filter(state=BuildHost.State.FAILED)
        assert not failed.exists(), list(failed.values_list("error", flat=True))
        time.sleep(POLL_SECONDS)
    pytest.fail(f"the pool never had {ready} ready hosts: {states}")


def ask_at_once(owner, endpoint, registry, count):
    """`count` requests from as many threads, let go together, each on its
    own database connection (closed after)."""
    barrier = threading.Barrier(count)
    made, errors = [None] * count, []

    def ask(index):
        try:
            barrier.wait()
            host, created = buildhosts.create_build_host(
                owner,
                {
                    "endpoint_id": endpoint.pk,
                    "registry_ids": [registry.pk],
                    "name": f"at-once-{index}",
                },
                source="api",
            )
            assert created
            made[index] = host.pk
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return made


def test_requests_at_once_claim_each_pool_host_once_and_the_pool_refills(
    celery_worker,
    engine,
    endpoint,
    registry,
    developer,
    devstack,
    busybox,
    settings,
    tmp_path,
    leftovers,
):
    # Room for every request and the ephemeral build's host at the end.
    settings.DCHWEB_MAX_BUILD_HOSTS_PER_USER = AT_ONCE + 1
    Endpoint.objects.filter(pk=endpoint.pk).update(
        pool_size=POOL_SIZE, max_build_hosts=AT_ONCE + POOL_SIZE + 1
    )
    tasks.refill_pool.delay(endpoint.pk)
    waiting = wait_for_pool(endpoint, POOL_SIZE)
    for host in waiting:
        assert [step.name for step in host.steps.all()] == [
            "pull_image",
            "create_volumes",
            "create_container",
            "inject_certs",
            "start",
            "wait_ready",
            "verify_registry",
        ]
        assert host.owner_cert_pem == ""  # nobody's yet: no owner certificate

    made = ask_at_once(developer, endpoint, registry, AT_ONCE)

    hosts = {host.pk: host for host in BuildHost.objects.filter(pk__in=made)}
    assert len(hosts) == AT_ONCE, "a host was handed to two requests"
    claimed = [host for host in hosts.values() if host.from_pool]
    cold = [host for host in hosts.values() if not host.from_pool]
    assert {host.pk for host in claimed} == {host.pk for host in waiting}
    assert len(cold) == AT_ONCE - POOL_SIZE
    for host in claimed:
        # Ready at once, as asked, and its own.
        assert host.state == BuildHost.State.READY
        assert host.owner == developer and host.name.startswith("at-once-")
        assert host.steps.filter(name="claim", detail="claimed from the pool").exists()
    for host in hosts.values():
        host = wait_settled(host)
        assert host.state == BuildHost.State.READY, host.error
    # After the claims the pool is full again, with new hosts.
    refilled = wait_for_pool(endpoint, POOL_SIZE, leaving=hosts)
    assert not {host.pk for host in refilled} & set(hosts)

    # A claimed host: the owner's bundle opens it; the engine's label still
    # says nobody, dchweb's rows say whose it is.
    mine = claimed[0]
    cert_dir = bundle_dir(mine, tmp_path / "bundle")
    client = mutual_tls_client(f"https://127.0.0.1:{mine.port}", cert_dir)
    try:
        assert client.ping()
    finally:
        client.close()
    container = engine.containers.get(mine.container_name)
    assert container.labels["io.dchweb.owner"] == ""
    owners = Volume.objects.filter(build_host=mine).values_list("owner_name", flat=True)
    assert set(owners) == {"alice"}
    answer = Client().get(
        f"/api/v1/build-hosts/{mine.pk}",
        HTTP_AUTHORIZATION=f"Bearer {api_token(developer)}",
    )
    assert answer.json()["from_pool"] is True
    assert answer.json()["owner"] == "alice"

    # A pool host whose container is removed behind dchweb's back is
    # replaced, not handed out.
    lost = refilled[0]
    engine.containers.get(lost.container_name).remove(force=True)
    tasks.refill_pool.delay(endpoint.pk)
    replaced = wait_for_pool(endpoint, POOL_SIZE, leaving=[lost.pk])
    lost = wait_settled(lost)
    assert lost.state == BuildHost.State.REMOVED and lost.owner is None

    # An ephemeral build claims one too, builds on it at once, and says so.
    as_developer = Client(HTTP_AUTHORIZATION=f"Bearer {api_token(developer)}")
    answer = post_build(
        as_developer,
        hello_context(busybox),
        tag=unique_tag(devstack),
        endpoint_id=endpoint.pk,
        push="false",
    )
    assert answer.status_code == 202, answer.content
    build = wait_final(answer.json()["id"])
    assert build.state == Build.State.SUCCEEDED, build.error
    assert build.build_host_id in {host.pk for host in replaced}
    log = as_developer.get(f"/api/v1/builds/{build.pk}/log").content.decode()
    assert "claimed from the pool" in log
    assert wait_settled(build.build_host).state == BuildHost.State.REMOVED
    wait_for_pool(endpoint, POOL_SIZE, leaving=[build.build_host_id])

    # The cap full, the pool's hosts among it: a request none of them fits
    # (a bigger disk) makes one give way instead of being refused.
    active = BuildHost.objects.filter(
        endpoint=endpoint, state__in=BuildHost.ACTIVE_STATES
    )
    Endpoint.objects.filter(pk=endpoint.pk).update(max_build_hosts=active.count())
    settings.DCHWEB_MAX_BUILD_HOSTS_PER_USER = AT_ONCE + 2
    bigger, _ = buildhosts.create_build_host(
        developer,
        {"endpoint_id": endpoint.pk, "registry_ids": [registry.pk], "disk_gb": 40},
        source="api",
    )
    assert not bigger.from_pool
    assert wait_settled(bigger).state == BuildHost.State.READY, bigger.error
    gave_way = pool.free_hosts(endpoint).filter(state=BuildHost.State.REMOVED)
    assert gave_way.filter(removed_at__gt=bigger.created_at).count() == 1
