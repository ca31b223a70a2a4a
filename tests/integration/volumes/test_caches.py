"""Build caches on the devstack engine, through the API and a real worker: an
ephemeral build with volume policy "cache" leaves its data volume as its
owner's cache; the owner's next build there starts on it and takes its slow
steps from it; two builds at once share it with nobody (one on the cache,
the other cold); the budget evicts the least recently used cache; and a
cache removed behind dchweb's back leaves the next host to start cold."""

import pytest
from django.test import Client

from hosts.builds import logs as buildlogs
from hosts.models import AuditEvent, Build, BuildHost, Volume
from hosts.volumes import caches, ledger
from hosts.volumes.budgets import GB
from tests.integration.builds.test_build_options import runs
from tests.support.builds import post_build, unique_tag, wait_final
from tests.support.contexts import archive
from tests.support.hostcheck import wait_settled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SLOW_STEPS = ("one", "two")


@pytest.fixture
def as_developer(developer_token):
    return Client(HTTP_AUTHORIZATION=f"Bearer {developer_token}")


def slow_context(busybox) -> bytes:
    """Two RUN steps that take a second each, unless they come from a cache."""
    steps = "".join(
        f'RUN ["/bin/busybox", "sh", "-c", "sleep 1 && echo {word} > /{word}"]\n'
        for word in SLOW_STEPS
    )
    dockerfile = f"FROM scratch\nCOPY busybox /bin/busybox\n{steps}".encode()
    return archive({"Dockerfile": dockerfile, "busybox": busybox}, gzipped=True)


def start_build(client, context, devstack, endpoint) -> str:
    answer = post_build(
        client,
        context,
        tag=unique_tag(devstack, "cached"),
        endpoint_id=endpoint.pk,
        push="false",
        volume_policy="cache",
    )
    assert answer.status_code == 202, answer.content
    return answer.json()["id"]


def finished(build_id) -> tuple[BuildHost, str]:
    """The build's host, removed after it, and the build's log."""
    build = wait_final(build_id)
    assert build.state == Build.State.SUCCEEDED, build.error
    host = wait_settled(BuildHost.objects.get(pk=build.build_host_id))
    assert host.state == BuildHost.State.REMOVED, host.error
    return host, buildlogs.path_of(build.pk).read_text()


def cache_row(name) -> Volume:
    return Volume.objects.get(name=name, present=True)


def on_engine(engine, name) -> bool:
    return any(volume.name == name for volume in engine.volumes.list())


def test_a_cache_outlives_its_host_serves_one_host_at_a_time_and_keeps_its_budget(
    celery_worker,
    endpoint,
    registry,
    as_developer,
    devstack,
    busybox,
    engine,
    settings,
    leftovers,
):
    context = slow_context(busybox)

    # A first build: nothing to reuse; its data volume stays as alice's cache.
    first, log = finished(start_build(as_developer, context, devstack, endpoint))
    assert len(runs(log)) == 2
    cache = first.volume_name("docker-data")
    row = cache_row(cache)
    assert (row.role, row.owner_name, row.cache_host, row.cache_reuses) == (
        "cache",
        "alice",
        None,
        0,
    )
    assert on_engine(engine, cache)
    assert not on_engine(engine, first.volume_name("certs"))

    # The next build there starts on it: its slow steps come from the cache.
    second, log = finished(start_build(as_developer, context, devstack, endpoint))
    assert second.cache_volume == cache
    assert "Using cache" in log and runs(log) == []
    step = second.steps.get(name="cache")
    assert step.detail.startswith(f"starts on your build cache {cache}, last used")
    row = cache_row(cache)
    assert (row.role, row.owner_name, row.cache_host, row.cache_reuses) == (
        "cache",
        "alice",
        None,
        1,
    )
    assert not on_engine(engine, second.volume_name("certs"))

    # Two builds at once: one starts on the cache, the other cold.
    both = [start_build(as_developer, context, devstack, endpoint) for _ in "ab"]
    hosts = [finished(build_id)[0] for build_id in both]
    assert sorted(host.cache_volume for host in hosts) == ["", cache]
    cold = next(host for host in hosts if not host.cache_volume)
    assert cold.volume_name("docker-data") != cache
    kept = caches.caches().filter(owner_name="alice", endpoint=endpoint)
    assert set(kept.values_list("name", flat=True)) == {
        cache,
        cold.volume_name("docker-data"),
    }

    # Over the budget, the least recently used goes; the newest stays.
    assert ledger.measure_sizes(endpoint) > 0
    oldest, newest = kept.order_by("cache_last_used")
    assert oldest.size_bytes > 0 and newest.size_bytes > 0
    settings.DCHWEB_CACHE_BUDGET_GB = (newest.size_bytes + oldest.size_bytes - 1) / GB

    assert caches.evict_over_budget() == [oldest.name]

    assert not on_engine(engine, oldest.name)
    assert on_engine(engine, newest.name)
    assert list(kept.values_list("name", flat=True)) == [newest.name]
    evicted = AuditEvent.objects.get(action="volume.cache_evicted")
    assert evicted.details["owner"] == "alice"
    assert caches.evict_over_budget() == []  # under the budget now

    # A cache removed behind dchweb's back: the next host starts cold, and
    # its timeline says why.
    engine.volumes.get(newest.name).remove()
    gone, log = finished(start_build(as_developer, context, devstack, endpoint))
    assert gone.cache_volume == "" and len(runs(log)) == 2
    made = gone.steps.get(name="create_volumes").detail
    assert f"your build cache {newest.name} is gone from the engine" in made
    assert set(kept.values_list("name", flat=True)) == {gone.volume_name("docker-data")}
