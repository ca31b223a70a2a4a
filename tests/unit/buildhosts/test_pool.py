"""The warm pool with rows only: what a claim sets and that it takes a host
once, what a refill makes and recycles, and that a free pool host is
nobody's (no list, no cap, no idle stop). The same against the real engine
and worker: tests/integration/buildhosts/test_pool.py."""

from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from hosts.buildhosts import commands as buildhosts
from hosts.buildhosts import idle, pool, tasks
from hosts.lib import x509
from hosts.models import BuildHost, Endpoint, Notification, Registry, RegistryTrust
from hosts.ops import metrics
from tests.support import world

pytestmark = pytest.mark.django_db

IMAGE = "registry.test:5443/default-project/dch-photon:20.10"


@pytest.fixture
def registry():
    return Registry.objects.create(name="r", address="registry.test:5443")


@pytest.fixture
def pooled(registry):
    """An endpoint (its engine unreachable) with a pool of two."""
    return world.unreachable_endpoint(
        "pooled", default_image=IMAGE, pool_size=2, max_build_hosts=3
    )


def a_pool_host(endpoint, registries, **fields):
    """Ready, with its own CA (as provisioning leaves it): nobody's."""
    now = timezone.now()
    ca = x509.new_build_host_ca("test pool host")
    fields.setdefault("state", BuildHost.State.READY)
    host = BuildHost(
        owner=None,
        from_pool=True,
        endpoint=endpoint,
        name=f"pool-{BuildHost.objects.count()}",
        image=IMAGE,
        created_at=now,
        ready_at=now,
        expires_at=now + timedelta(hours=24),
        ca_pem=ca.cert_pem,
        client_cert_pem="a client certificate",
        **fields,
    )
    host.set_secret("ca_key", ca.key_pem)
    host.save()
    host.registries.set(registries)
    return host


def ask(owner, endpoint, registry, **data):
    host, _ = buildhosts.create_build_host(
        owner,
        {"endpoint_id": endpoint.pk, "registry_ids": [registry.pk], **data},
        source="api",
    )
    return host


def test_a_claim_hands_over_a_ready_host_once(
    developer, other_developer, pooled, registry
):
    free = a_pool_host(pooled, [registry])

    with mock.patch("hosts.buildhosts.commands.enqueue_on_commit") as enqueue:
        mine = ask(developer, pooled, registry, name="mine", ttl_minutes=30)
    theirs = ask(other_developer, pooled, registry, name="theirs")

    assert mine.pk == free.pk
    assert mine.owner == developer and mine.state == BuildHost.State.READY
    assert mine.name == "mine" and mine.claimed_at is not None
    assert mine.expires_at - mine.claimed_at == timedelta(minutes=30)
    # The owner's certificate, from the host's own CA: it opens that host.
    assert "BEGIN CERTIFICATE" in mine.owner_cert_pem
    assert x509.load_private_key(mine.get_secret("owner_key"))
    claim = mine.steps.get(name=pool.CLAIM_STEP)
    assert claim.detail == "claimed from the pool"
    notice = Notification.objects.get(owner=developer, event="build_host.ready")
    assert notice.object["id"] == str(mine.pk)
    # No provisioning: the pool's refill instead.
    enqueue.assert_called_once_with(tasks.refill_pool, pooled.pk)
    # The second request found the pool empty: a host of its own, cold.
    assert theirs.pk != free.pk and not theirs.from_pool
    assert theirs.state == BuildHost.State.REQUESTED


def test_an_ephemeral_builds_claim_is_not_news_of_its_own(developer, pooled, registry):
    free = a_pool_host(pooled, [registry])

    with mock.patch("hosts.buildhosts.commands.enqueue_on_commit"):
        host, _ = buildhosts.create_build_host(
            developer,
            {"endpoint_id": pooled.pk, "registry_ids": [registry.pk]},
            provision=False,  # as a build asks for its own host
            source="api",
        )

    assert host.pk == free.pk and host.owner == developer
    assert host.state == BuildHost.State.READY
    # Its build's outcome is what the owner hears of, not the host.
    assert not Notification.objects.filter(owner=developer).exists()


def test_a_pool_host_taken_meanwhile_is_not_claimed_again(
    developer, other_developer, pooled, registry
):
    free = a_pool_host(pooled, [registry])
    wanted = buildhosts._clean(
        developer, {"endpoint_id": pooled.pk, "registry_ids": [registry.pk]}
    )
    wanted["image"] = IMAGE
    candidates = pool.fitting(pooled, IMAGE, [registry])

    assert pool.claim(developer, wanted, candidates) is not None
    # A second request that saw the same candidate before the first claim.
    assert pool.claim(other_developer, wanted, candidates) is None
    free.refresh_from_db()
    assert free.owner == developer


def test_a_host_that_does_not_fit_is_not_claimed(developer, pooled, registry):
    other = Registry.objects.create(name="other", address="other.test:5443")
    a_pool_host(pooled, [registry])

    assert pool.fitting(pooled, IMAGE, [registry, other]) == []
    assert pool.fitting(pooled, "another/image:1", [registry]) == []
    failed = a_pool_host(pooled, [registry, other], state=BuildHost.State.FAILED)
    assert failed not in pool.fitting(pooled, IMAGE, [registry])


def test_a_free_pool_host_is_nobodys(developer, admin, pooled, registry, client):
    free = a_pool_host(pooled, [registry])

    assert free not in buildhosts.visible_to(admin)
    assert free not in idle.idle_candidates()
    client.force_login(admin)
    assert str(free.pk) not in client.get("/build-hosts/").content.decode()
    token = world.api_token(admin)
    listed = (
        Client().get("/api/v1/build-hosts", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    )
    assert str(free.pk) not in str(listed)
    # Nobody's cap counts it; the endpoint's does (the pool takes places).
    buildhosts._check_user_cap(developer)
    endpoint = (
        Client()
        .get(f"/api/v1/endpoints/{pooled.pk}", HTTP_AUTHORIZATION=f"Bearer {token}")
        .json()
    )
    assert (endpoint["pool_size"], endpoint["pool_ready"]) == (2, 1)
    exposed = metrics.exposition()
    assert 'dchweb_pool_hosts{endpoint="pooled",state="ready"} 1.0' in exposed


def test_a_refill_tops_up_under_the_cap_with_what_the_endpoint_trusts(
    pooled, registry, admin
):
    untrusted = Registry.objects.create(name="untrusted", address="no.test:5443")
    RegistryTrust.objects.create(endpoint=pooled, registry=registry, ok=True)
    RegistryTrust.objects.create(endpoint=pooled, registry=untrusted, ok=False)
    BuildHost.objects.create(
        owner=admin,
        endpoint=pooled,
        name="busy",
        image=IMAGE,
        state=BuildHost.State.READY,
        created_at=timezone.now(),
        expires_at=timezone.now() + timedelta(hours=1),
    )

    plan = pool.refill(pooled.pk)

    assert len(plan.provision) == 2 and plan.remove == []
    made = BuildHost.objects.filter(pk__in=plan.provision)
    for host in made:
        assert host.is_free_pool_host and host.image == IMAGE
        assert list(host.registries.all()) == [registry]
        assert host.volume_policy == BuildHost.VolumePolicy.DELETE
        assert host.expires_at - host.created_at == timedelta(hours=24)
    # Full: 1 + 2 = the cap of 3; a second refill at once makes nothing.
    assert pool.refill(pooled.pk).provision == []
    pooled.pool_size = 3
    pooled.save()
    assert pool.refill(pooled.pk).provision == []


def test_a_registry_not_checked_yet_counts_as_trusted(pooled, registry):
    other = Registry.objects.create(name="other", address="other.test:5443")
    assert pool.pool_registries(pooled) == [registry, other]

    RegistryTrust.objects.create(endpoint=pooled, registry=registry, ok=True)
    assert pool.pool_registries(pooled) == [registry, other]
    RegistryTrust.objects.create(endpoint=pooled, registry=other, ok=False)
    assert pool.pool_registries(pooled) == [registry]


@pytest.mark.parametrize(
    "change", ["off", "disabled", "smaller", "new image", "failed", "new registry"]
)
def test_a_refill_recycles_what_no_longer_belongs(change, pooled, registry):
    waiting = a_pool_host(pooled, [registry], state=BuildHost.State.REQUESTED)
    ready = a_pool_host(pooled, [registry])
    if change == "off":
        pooled.health = Endpoint.Health.OFF
    elif change == "disabled":
        pooled.health = Endpoint.Health.DISABLED
    elif change == "smaller":
        pooled.pool_size = 1
    elif change == "new image":
        pooled.default_image = "registry.test:5443/default-project/other:1"
    elif change == "failed":
        BuildHost.objects.filter(pk=ready.pk).update(state=BuildHost.State.FAILED)
    else:
        Registry.objects.create(name="new", address="new.test:5443")
    pooled.save()

    plan = pool.refill(pooled.pk)

    removed = set(plan.remove)
    expected = {
        "off": set(),  # nothing made, nothing removed: it may come back
        "disabled": {str(waiting.pk), str(ready.pk)},
        "smaller": {str(waiting.pk)},  # the one that serves nobody yet
        "new image": {str(waiting.pk), str(ready.pk)},
        "failed": {str(ready.pk)},
        "new registry": {str(waiting.pk), str(ready.pk)},
    }[change]
    assert removed == expected
    for host in BuildHost.objects.filter(pk__in=removed):
        assert host.state == BuildHost.State.REMOVING and host.remove_volumes
    # New ones for those gone, under the cap of 3 that hosts being removed
    # still hold places under.
    grows = change in ("new image", "failed", "new registry")
    assert len(plan.provision) == (1 if grows else 0)


def test_a_full_cap_of_pool_hosts_gives_way_to_a_request_they_do_not_fit(
    developer, pooled, registry
):
    Endpoint.objects.filter(pk=pooled.pk).update(max_build_hosts=2)
    pooled.refresh_from_db()
    waiting = a_pool_host(pooled, [registry], state=BuildHost.State.PROVISIONING)
    ready = a_pool_host(pooled, [registry])

    with mock.patch("hosts.buildhosts.commands.enqueue_on_commit") as enqueue:
        big = ask(developer, pooled, registry, name="big", disk_gb=80)
        assert BuildHost.objects.get(pk=waiting.pk).state == BuildHost.State.REMOVING
        # Until its removal is done it holds its place: the cap stays a cap.
        with pytest.raises(buildhosts.BuildHostConflict):
            ask(developer, pooled, registry, name="early", image="other:1")
        BuildHost.objects.filter(pk=waiting.pk).update(state=BuildHost.State.REMOVED)
        # The cap is full again: the next one takes the other pool host's place.
        other = ask(developer, pooled, registry, name="other", image="other:1")

    assert not big.from_pool and big.disk_gb == 80
    assert not other.from_pool and other.image == "other:1"
    # The one still being made went first, then the ready one; their
    # removals are sent with the requests.
    ready.refresh_from_db()
    assert ready.state == BuildHost.State.REMOVING
    sent = [call.args for call in enqueue.call_args_list]
    assert (tasks.remove_build_host, str(waiting.pk)) in sent
    assert (tasks.remove_build_host, str(ready.pk)) in sent
    # No pool host left: a third request is refused, saying why.
    with pytest.raises(buildhosts.BuildHostConflict) as refused:
        ask(developer, pooled, registry, name="third")
    assert refused.value.code == "cap_reached"
    assert "build hosts, its cap: remove one" in refused.value.message
