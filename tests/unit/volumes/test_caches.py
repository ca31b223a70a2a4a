"""Build caches without an engine: the "cache" policy as the requests, forms
and API take it; one host at a time on a cache; the ledger keeping a cache's
role and owner whatever its labels say; what a removal keeps and counts; an
eviction the engine refuses; the admins' table on /volumes/. The real
builds on a cache run in tests/integration/volumes/test_caches.py."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from hosts import engine
from hosts.buildhosts import commands as buildhosts
from hosts.models import AuditEvent, BuildHost, Volume
from hosts.volumes import caches, ledger
from hosts.web.forms import BuildForm, BuildHostForm

pytestmark = pytest.mark.django_db

CACHE_WORDS = "Keep the data volume as my build cache"


def test_the_cache_policy_is_a_policy_of_its_own():
    assert buildhosts.parse_volume_policy(" cache ") == ("cache", None)
    with pytest.raises(buildhosts.BuildHostInvalid) as refused:
        buildhosts.parse_volume_policy("caches")
    assert '"cache", not' in refused.value.message


def test_both_forms_offer_the_cache_in_words():
    for form in (BuildHostForm(), BuildForm()):
        assert (("cache", CACHE_WORDS)) in form.fields["volume_policy"].choices
        assert "your next build host" in form.fields["volume_policy"].help_text


@pytest.fixture
def make_host(developer, endpoint):
    def make(name="bh", **fields):
        defaults = {
            "owner": developer,
            "endpoint": endpoint,
            "name": name,
            "image": "dch-photon",
            "state": BuildHost.State.REQUESTED,
            "volume_policy": "cache",
            "expires_at": timezone.now() + timedelta(hours=2),
        }
        return BuildHost.objects.create(**{**defaults, **fields})

    return make


@pytest.fixture
def make_cache(make_volume):
    def make(name, hours_ago, **fields):
        return make_volume(
            name,
            role="cache",
            cache_last_used=timezone.now() - timedelta(hours=hours_ago),
            **fields,
        )

    return make


def test_the_newest_free_cache_of_that_owner_there_is_the_one(
    developer, other_developer, endpoint, other_endpoint, make_cache, make_host
):
    make_cache("old", 5, cache_reuses=2)
    newest = make_cache("newest", 1)
    make_cache("bobs", 0, owner_name="bob")
    make_cache("elsewhere", 0, on=other_endpoint)
    make_cache("gone", 0, present=False)
    make_cache("taken", 0, cache_host=make_host("holder"))

    assert caches.newest_free(developer, endpoint) == newest
    assert caches.newest_free(other_developer, endpoint).name == "bobs"
    assert caches.newest_free(None, endpoint) is None


def test_one_host_at_a_time_takes_a_cache(developer, endpoint, make_cache, make_host):
    cache = make_cache("dchweb-abc-data", 2, cache_reuses=3)
    first, second = make_host("first"), make_host("second")

    assert caches.take(cache, first) is True
    assert caches.take(cache, second) is False  # it saw the cache free before

    cache.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert cache.cache_host == first
    assert first.cache_volume == "dchweb-abc-data"
    assert first.volume_name("docker-data") == "dchweb-abc-data"
    assert second.cache_volume == ""
    step = first.steps.get(name="cache")
    assert step.detail == (
        "starts on your build cache dchweb-abc-data, last used 2 hours ago, "
        "reused 3 times"
    )
    assert not second.steps.filter(name="cache").exists()
    assert caches.newest_free(developer, endpoint) is None


def test_a_cache_held_by_a_host_that_ended_without_giving_it_back_is_free(
    developer, endpoint, make_cache, make_host
):
    holder = make_host("cancelled", state=BuildHost.State.REMOVED)
    cache = make_cache("held", 1, cache_host=holder)
    assert caches.newest_free(developer, endpoint) == cache


def test_a_refresh_keeps_a_caches_role_and_owner_whatever_its_labels_say(
    endpoint, make_cache
):
    make_cache("dchweb-abc-data", 1, owner_name="alice")
    labels = {
        "io.dchweb.managed": "true",
        "io.dchweb.role": "docker-data",
        "io.dchweb.owner": "someone-else",
    }
    seen = engine.VolumeSeen("dchweb-abc-data", "local", labels, None, {})
    ledger.note_volume_created(endpoint, seen)

    row = Volume.objects.get(name="dchweb-abc-data")
    assert (row.role, row.owner_name) == ("cache", "alice")


def test_a_removal_keeps_the_data_as_a_cache_and_counts_one_reuse(
    endpoint, make_cache, make_host
):
    host = make_host("reusing", state=BuildHost.State.REMOVING)
    cache = make_cache("dchweb-abc-data", 3, cache_reuses=1)
    assert caches.take(cache, host)
    host.ready_at = timezone.now()
    ledger.note_build_host_volumes(host, "attached")
    assert Volume.objects.get(name="dchweb-abc-data").role == "cache"

    assert caches.keep(host) and caches.keep(host)  # a removal run twice

    cache.refresh_from_db()
    assert cache.cache_host is None and cache.cache_reuses == 2
    assert timezone.now() - cache.cache_last_used < timedelta(minutes=1)
    assert (cache.role, cache.owner_name, cache.status) == (
        "cache",
        "alice",
        "orphaned",
    )


def test_a_new_hosts_data_volume_becomes_its_owners_cache(make_host, developer):
    host = make_host("fresh", volume_policy="cache")
    ledger.note_build_host_volumes(host, "attached")
    assert caches.keeps_cache(host)

    assert caches.keep(host)

    row = Volume.objects.get(name=host.volume_name("docker-data"))
    assert (row.role, row.owner_name, row.cache_reuses) == ("cache", "alice", 0)
    assert Volume.objects.get(name=host.volume_name("certs")).role == "certs"
    assert not caches.keeps_cache(make_host("plain", volume_policy="delete"))


def test_a_cache_the_engine_says_is_in_use_is_not_evicted(settings, make_cache):
    settings.DCHWEB_CACHE_BUDGET_GB = 1
    make_cache("old", 5, size_bytes=2 * 10**9)
    make_cache("new", 1, size_bytes=10)
    conflict = engine.EngineConflict("volume old is in use")
    with mock.patch.object(engine, "remove_volume", side_effect=conflict):
        assert caches.evict_over_budget() == []
    assert Volume.objects.get(name="old").present
    assert not AuditEvent.objects.filter(action="volume.cache_evicted").exists()

    settings.DCHWEB_CACHE_BUDGET_GB = 0  # no limit: nothing is asked
    with mock.patch.object(engine, "remove_volume") as remove:
        assert caches.evict_over_budget() == []
    remove.assert_not_called()


def test_admins_see_cache_bytes_per_owner_on_the_volumes_page(admin_client, make_cache):
    make_cache("one", 1, size_bytes=3 * 10**9)
    make_cache("two", 2, size_bytes=10**9, owner_name="bob")

    page = admin_client.get("/volumes/").content.decode()

    table = page.split('id="cache-bytes-by-owner"')[1].split("</table>")[0]
    assert table.index("alice") < table.index("bob")  # the largest first
    assert "<td>3 GB</td>" in table and "<td>1 GB</td>" in table
    assert "Each owner keeps at most 20 GB of them" in " ".join(page.split())
