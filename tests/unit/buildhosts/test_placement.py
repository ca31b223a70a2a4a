"""Where a build host goes when the request names no endpoint, with rows
only: the owner's cache over a free pool host over the fewest running hosts,
and each endpoint's reason when none can take it. (The same choice with the
real engine and worker: tests/integration/buildhosts/test_placement.py.)"""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from hosts.buildhosts import placement, pool
from hosts.core import installation
from hosts.models import Build, BuildHost, Endpoint, Registry, RegistryTrust, Volume
from tests.support import world
from tests.support.contexts import archive

pytestmark = pytest.mark.django_db

IMAGE = "registry.test:5443/default-project/dch-photon:20.10"


@pytest.fixture
def registry():
    return Registry.objects.create(name="r", address="registry.test:5443")


def an_endpoint(name, **fields):
    fields.setdefault("default_image", IMAGE)
    fields.setdefault("last_probe_at", timezone.now())
    return world.unreachable_endpoint(name, **fields)


def a_host(endpoint, owner=None, **fields):
    now = timezone.now()
    fields.setdefault("state", BuildHost.State.READY)
    return BuildHost.objects.create(
        owner=owner,
        endpoint=endpoint,
        name=f"h-{BuildHost.objects.count()}",
        image=IMAGE,
        created_at=now,
        expires_at=now + timedelta(hours=8),
        **fields,
    )


def a_pool_host(endpoint, registries):
    """Free, ready and verified: waiting in the endpoint's pool for anyone."""
    host = a_host(endpoint, from_pool=True, ready_at=timezone.now())
    host.registries.set(registries)
    return host


def a_cache(owner, endpoint):
    """The owner's build cache there: the data volume of a host removed with
    volume policy "cache", used by no host now."""
    now = timezone.now()
    return Volume.objects.create(
        endpoint=endpoint,
        name=f"dchweb-cache-{owner.get_username()}-{endpoint.name}",
        status=Volume.Status.ORPHANED,
        managed=True,
        installation=installation.installation_id(),
        role="cache",
        owner_name=owner.get_username(),
        labels={"io.dchweb.role": "cache", "io.dchweb.owner": owner.get_username()},
        cache_last_used=now,
        detached_since=now,
    )


def wanted(registries, endpoint=None):
    return {"endpoint": endpoint, "image": "", "registries": list(registries)}


def test_the_cache_wins_over_a_pool_host_which_wins_over_the_fewest_running(
    developer, other_developer, registry
):
    alpha, bravo, charlie, delta = (
        an_endpoint(name) for name in ("alpha", "bravo", "charlie", "delta")
    )
    a_host(alpha, other_developer)
    a_host(alpha, other_developer)
    pool_host = a_pool_host(bravo, [registry])
    a_host(charlie, other_developer)
    cache = a_cache(developer, charlie)
    a_host(delta, other_developer)

    chosen = placement.place(developer, wanted([registry]))
    assert (chosen.endpoint, chosen.cache) == (charlie, cache)
    assert chosen.reason.startswith(
        "any endpoint: charlie, where your build cache is (preferred over a "
        "ready pool host"
    )
    # Someone else's cache is not yours.
    assert placement.place(other_developer, wanted([registry])).endpoint == bravo

    cache.delete()
    chosen = placement.place(developer, wanted([registry]))
    assert (chosen.endpoint, chosen.pool_hosts, chosen.cache) == (
        bravo,
        [pool_host],
        None,
    )
    assert chosen.reason == "any endpoint: bravo, a ready host was waiting in its pool"

    # No pool host: the fewest running, and between equals the name.
    pool_host.state = BuildHost.State.REMOVED
    pool_host.save()
    chosen = placement.place(developer, wanted([registry]))
    assert chosen.endpoint == bravo
    assert chosen.reason == "any endpoint: bravo, fewest build hosts running (0 of 10)"
    a_host(bravo, other_developer, state=BuildHost.State.PROVISIONING)
    a_host(bravo, other_developer)
    chosen = placement.place(developer, wanted([registry]))
    assert (chosen.endpoint.name, chosen.pool_hosts) == ("charlie", [])


def a_warm_host(owner, endpoint, registries):
    """A free pool host made ready on the owner's cache (pool.py)."""
    cache = a_cache(owner, endpoint)
    host = a_pool_host(endpoint, registries)
    host.cache_volume = cache.name
    host.save()
    cache.cache_host = host
    cache.save()
    return host


def test_a_warm_host_on_the_owners_cache_wins_and_is_nobody_elses(
    developer, other_developer, admin, registry
):
    alpha, bravo, charlie = (
        an_endpoint(name) for name in ("alpha", "bravo", "charlie")
    )
    a_pool_host(alpha, [registry])
    a_cache(developer, bravo)
    warm = a_warm_host(developer, charlie, [registry])
    a_host(charlie, other_developer)

    chosen = placement.place(developer, wanted([registry]))
    assert (chosen.endpoint, chosen.pool_hosts) == (charlie, [warm])
    assert chosen.reason == (
        "any endpoint: charlie, a host on your build cache was made ready ahead for you"
    )
    named = placement.place(developer, wanted([registry], endpoint=charlie))
    assert named.pool_hosts == [warm]

    # Not somebody else's: neither placement nor the claim hands it over.
    theirs = placement.place(other_developer, wanted([registry], endpoint=charlie))
    assert theirs.pool_hosts == []
    anyone = {
        "name": "bobs",
        "disk_gb": BuildHost.DEFAULT_DISK_GB,
        "ttl": timedelta(hours=1),
        "volume_policy": BuildHost.VolumePolicy.DELETE,
        "keep_days": None,
        "idle_minutes": None,
        "lease_seconds": None,
    }
    assert pool.claim(other_developer, anyone, [warm]) is None
    warm.refresh_from_db()
    assert warm.owner is None
    # Nor is it one of the pool's: the endpoint counts no ready pool host,
    # and its row on the endpoints page says it apart.
    assert pool.ready_count(charlie) == 0 and pool.ready_count(alpha) == 1
    Endpoint.objects.filter(pk=charlie.pk).update(pool_size=1)
    page = Client()
    page.force_login(admin)
    rows = page.get("/endpoints/").content.decode()
    assert "0 of 1 ready; 1 more on build caches, each for its owner" in rows


def test_a_named_endpoint_stays_and_says_why_its_cache_beats_its_pool_host(
    developer, registry
):
    named = an_endpoint("named", health=Endpoint.Health.DEGRADED)
    a_pool_host(named, [registry])
    cache = a_cache(developer, named)

    chosen = placement.place(developer, wanted([registry], endpoint=named))

    assert (chosen.endpoint, chosen.cache) == (named, cache)
    assert chosen.reason.startswith(
        "named in the request; your build cache is there (preferred over a "
        "ready pool host: the cache keeps your pulled images"
    )
    assert chosen.reason_if_new == "named in the request"


def test_when_nothing_fits_each_endpoint_says_why(developer, registry, settings):
    settings.DCHWEB_BUILD_HOST_IMAGE = ""
    an_endpoint("dead", health=Endpoint.Health.OFF, last_error="connection refused")
    an_endpoint("fresh", health=Endpoint.Health.OFF, last_probe_at=None)
    an_endpoint("stopped", health=Endpoint.Health.DISABLED)
    distrusting = an_endpoint("picky")
    RegistryTrust.objects.create(
        endpoint=distrusting, registry=registry, ok=False, reason="unauthorized"
    )
    full = an_endpoint("full", max_build_hosts=1)
    a_host(full, developer)
    an_endpoint("bare", default_image="")
    # A pair nobody checked yet trusts (provisioning logs in anyway): an
    # endpoint without a row would have taken the host.
    unchecked = Registry.objects.create(name="u", address="unchecked.test:5000")

    with pytest.raises(placement.NothingFits) as nothing:
        placement.place(developer, wanted([registry, unchecked]))

    assert nothing.value.reasons == {
        "bare": "it has no default build-host image and the request names none",
        "dead": "its engine is off (last probe: connection refused)",
        "fresh": "not probed yet, so not known to answer",
        "full": "it runs 1 of 1 build hosts, its cap",
        "picky": "it cannot log in to registry.test:5443 (the last trust check)",
        "stopped": "disabled by an admin",
    }
    assert nothing.value.message.startswith(
        "no endpoint can take this build host — bare: it has no default"
    )


def test_no_endpoint_at_all_is_a_409_in_words(developer_token):
    answer = Client().post(
        "/api/v1/build-hosts",
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {developer_token}",
    )

    assert answer.status_code == 409
    assert answer.json() == {
        "error": "nothing_fits",
        "detail": "there is no endpoint to run build hosts on yet: an admin adds "
        "one on the Endpoints page",
    }
    assert not BuildHost.objects.exists()


def test_a_build_naming_neither_host_nor_endpoint_gets_a_placed_host(
    developer, developer_token, registry, data_dir, django_capture_on_commit_callbacks
):
    an_endpoint("off-one", health=Endpoint.Health.OFF)
    chosen = an_endpoint("on-one")
    context = archive({"Dockerfile": b"FROM scratch\n"})

    with (
        mock.patch("hosts.builds.tasks.run_build.delay") as run_build,
        django_capture_on_commit_callbacks(execute=True),
    ):
        answer = Client().post(
            "/api/v1/builds",
            data={
                "tag": "registry.test:5443/default-project/app:1",
                "context": SimpleUploadedFile("c.tar", context),
            },
            HTTP_AUTHORIZATION=f"Bearer {developer_token}",
        )

    assert answer.status_code == 202, answer.content
    assert run_build.call_count == 1
    build = Build.objects.get()
    assert build.ephemeral and build.endpoint == chosen
    assert build.build_host.endpoint == chosen
    reason = "any endpoint: on-one, fewest build hosts running (0 of 10)"
    assert build.build_host.placement == reason
    client = Client()
    client.force_login(developer)
    page = client.get(f"/builds/{build.pk}/").content.decode()
    assert f"on on-one: {reason}" in page


def test_the_forms_offer_any_endpoint_first_and_by_default_when_there_is_a_choice(
    client, developer
):
    only = an_endpoint("only")
    client.force_login(developer)
    any_first = '<option value="">Any endpoint</option>'

    for path in ("/build-hosts/", "/builds/new/"):
        page = client.get(path).content.decode()
        assert any_first in page, path
        assert f'<option value="{only.pk}" selected>only</option>' in page, path

    an_endpoint("another")
    for path in ("/build-hosts/", "/builds/new/"):
        page = client.get(path).content.decode()
        assert '<option value="" selected>Any endpoint</option>' in page, path
        assert page.index("Any endpoint</option>") < page.index(">another</option>")


def test_an_endpoint_full_of_pool_hosts_that_do_not_fit_still_takes_the_host(
    developer, registry
):
    full = an_endpoint("full", max_build_hosts=1)
    a_pool_host(full, [registry])
    bigger = {**wanted([registry]), "image": "other/image:1"}

    chosen = placement.place(developer, bigger)

    # The pool host does not fit; it gives way when the host is saved.
    assert (chosen.endpoint, chosen.pool_hosts) == (full, [])
    a_host(full, developer)
    with pytest.raises(placement.NothingFits) as nothing:
        placement.place(developer, bigger)
    assert nothing.value.reasons == {"full": "it runs 2 of 1 build hosts, its cap"}
