"""Warm hosts on owners' caches, against the devstack engine and a real
worker: on an endpoint with a warm pool, a host that leaves its data volume
as its owner's cache is followed by a pool host made on that cache, ready
for that owner only. Their next build claims it, is ready at once and takes
its slow steps from the cache; somebody else's request never gets it; a
warm host nobody claims gives the cache back as it was."""

import time

import pytest
from django.test import Client

from hosts.buildhosts import commands as buildhosts
from hosts.buildhosts import pool, tasks
from hosts.builds import logs as buildlogs
from hosts.models import Build, BuildHost, Endpoint, Volume
from tests.integration.builds.test_build_options import runs
from tests.integration.volumes.test_caches import slow_context
from tests.support.builds import post_build, unique_tag, wait_final
from tests.support.hostcheck import wait_settled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TIMEOUT_SECONDS = 120
POLL_SECONDS = 0.1


@pytest.fixture
def as_developer(developer_token):
    return Client(HTTP_AUTHORIZATION=f"Bearer {developer_token}")


def wait_until(what, describe):
    """`what()`'s answer once it is true; fails with `describe()` if it
    never is within the timeout."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        failed = pool.free_hosts().filter(state=BuildHost.State.FAILED)
        assert not failed.exists(), list(failed.values_list("error", flat=True))
        time.sleep(POLL_SECONDS)
    pytest.fail(describe())


def ready_warm_host(endpoint, cache_name) -> BuildHost:
    def found():
        return (
            pool.warm_hosts(endpoint)
            .filter(cache_volume=cache_name, state=BuildHost.State.READY)
            .first()
        )

    return wait_until(
        found,
        lambda: (
            f"no warm host got ready on {cache_name}: "
            f"{list(pool.free_hosts(endpoint).values_list('cache_volume', 'state'))}"
        ),
    )


def ready_pool(endpoint, size):
    def full():
        return pool.ready_count(Endpoint.objects.get(pk=endpoint.pk)) == size

    wait_until(full, lambda: f"the pool never had {size} ready hosts")


def build(client, context, devstack, endpoint, policy) -> Build:
    answer = post_build(
        client,
        context,
        tag=unique_tag(devstack, "warm"),
        endpoint_id=endpoint.pk,
        push="false",
        volume_policy=policy,
    )
    assert answer.status_code == 202, answer.content
    done = wait_final(answer.json()["id"])
    assert done.state == Build.State.SUCCEEDED, done.error
    host = wait_settled(BuildHost.objects.get(pk=done.build_host_id))
    assert host.state == BuildHost.State.REMOVED, host.error
    return done


def cache_row(name) -> Volume:
    return Volume.objects.get(name=name, present=True)


def test_a_warm_host_on_the_owners_cache_is_theirs_ready_and_cached(
    celery_worker,
    endpoint,
    registry,
    developer,
    other_developer,
    as_developer,
    devstack,
    busybox,
    engine,
    leftovers,
):
    Endpoint.objects.filter(pk=endpoint.pk).update(pool_size=1, max_build_hosts=6)
    tasks.refill_pool.delay(endpoint.pk)
    ready_pool(endpoint, 1)
    context = slow_context(busybox)

    # alice's first build: its data volume stays as her cache, and the
    # endpoint makes a host ready on it, for her, besides its pool.
    first = build(as_developer, context, devstack, endpoint, "cache")
    cache = BuildHost.objects.get(pk=first.build_host_id).volume_name("docker-data")
    warm = ready_warm_host(endpoint, cache)
    assert warm.owner is None and warm.from_pool
    assert warm.owner_cert_pem == ""  # nobody's until claimed
    row = cache_row(cache)
    assert (row.owner_name, row.cache_host_id) == ("alice", warm.pk)
    used_before = row.cache_last_used
    ready_pool(endpoint, 1)  # the warm host is not one of the pool's

    # Somebody else's request never gets alice's warm host.
    theirs, _ = buildhosts.create_build_host(
        other_developer, {"endpoint_id": endpoint.pk, "name": "bobs"}, source="api"
    )
    assert theirs.from_pool and theirs.pk != warm.pk and theirs.cache_volume == ""

    # alice's next build claims it, is ready at once, and takes its slow
    # steps from the cache; the cache stays hers (it started on it).
    second = build(as_developer, context, devstack, endpoint, "delete")
    assert second.build_host_id == warm.pk
    log = buildlogs.path_of(second.pk).read_text()
    claimed = "claimed from the pool on devstack: provisioned ahead, on your build"
    assert f"{claimed} cache {cache}, no wait" in log
    assert "(data kept as your build cache)" in log
    claim = BuildHost.objects.get(pk=warm.pk).steps.get(name="claim")
    assert claim.detail == f"claimed from the pool, ready on your build cache {cache}"
    assert "Using cache" in log and runs(log) == []
    row = cache_row(cache)
    assert (row.owner_name, row.cache_reuses) == ("alice", 1)
    assert row.cache_last_used > used_before

    # Another warm host follows; unclaimed, it gives the cache back as it
    # was when the pool goes.
    again = ready_warm_host(endpoint, cache)
    assert again.pk != warm.pk
    used = cache_row(cache).cache_last_used
    Endpoint.objects.filter(pk=endpoint.pk).update(pool_size=0)
    tasks.refill_pool.delay(endpoint.pk)
    wait_until(
        lambda: BuildHost.objects.filter(
            pk=again.pk, state=BuildHost.State.REMOVED
        ).exists(),
        lambda: f"the unclaimed warm host stayed {again.state}",
    )
    row = cache_row(cache)
    assert (row.owner_name, row.cache_host, row.cache_reuses) == ("alice", None, 1)
    assert row.cache_last_used == used
    assert any(volume.name == cache for volume in engine.volumes.list())
