"""The ledger's totals are computed once per change of the ledger and cached
under its stamp (hosts/models.py: VolumeLedgerStamp, triggers of migration
0011). What matters: a page or API read after any writer has committed shows
that write. Each test reads the totals first (so they are cached), writes
through a real writer path, and reads again. The engine is stubbed where a
writer asks it something; the ledger writes are the real ones."""

import re
import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dchweb.settings import cache_settings
from hosts import engine
from hosts.models import BuildHost, Endpoint, Volume, VolumeLedgerStamp
from hosts.volumes import cleanup, ledger, watcher
from hosts.volumes import commands as volumes

pytestmark = pytest.mark.django_db

GIB = 1024**3
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def api(admin_token):
    """The API's answer: count, reclaimable bytes, per owner and endpoint."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {admin_token}")

    def read(**query):
        response = client.get("/api/v1/volumes", query)
        assert response.status_code == 200, response.content
        body = response.json()
        return {
            "count": body["count"],
            "bytes": body["reclaimable_bytes"],
            "owners": {row["key"]: row["volumes"] for row in body["by_owner"]},
            "endpoints": {row["key"]: row["volumes"] for row in body["by_endpoint"]},
            "names": sorted(item["name"] for item in body["items"]),
        }

    return read


def page_totals(client, **query):
    """The page's totals line: volumes, not in use, and the pager's count."""
    html = client.get("/volumes/", query, **HTMX).content.decode()
    count, reclaimable = re.search(
        r"<strong>(\d+)</strong> volumes?;\s*<strong>(\d+)</strong> not in use", html
    ).groups()
    pager = re.search(r"· (\d+) volumes</span>", html)
    return int(count), int(reclaimable), int(pager[1]) if pager else 0


def scans_of_the_ledger(queries):
    """Aggregates over hosts_volume (the totals), not the page of rows."""
    return [
        query["sql"]
        for query in queries.captured_queries
        if '"hosts_volume"' in query["sql"]
        and re.search(r"\b(COUNT|SUM|MAX)\(", query["sql"])
    ]


# --- Cached, and read without a scan -------------------------------------------------


def test_a_second_read_scans_nothing_and_the_pager_reuses_the_count(
    admin_client, api, make_volume
):
    for number in range(3):
        make_volume(f"v{number}")
    with CaptureQueriesContext(connection) as first:
        assert page_totals(admin_client) == (3, 3, 3)
    assert scans_of_the_ledger(first)  # computed once

    with CaptureQueriesContext(connection) as page:
        assert page_totals(admin_client) == (3, 3, 3)
    with CaptureQueriesContext(connection) as listing:
        assert api()["count"] == 3

    assert scans_of_the_ledger(page) == []
    assert scans_of_the_ledger(listing) == []


def test_the_full_page_and_the_fragment_show_the_same_cached_totals(
    admin_client, make_volume
):
    make_volume("a", owner_name="alice", size_bytes=2 * GIB)
    make_volume("b", owner_name="bob")
    make_volume("c", status=Volume.Status.IN_USE)
    admin_client.get("/volumes/")

    with CaptureQueriesContext(connection) as queries:
        html = admin_client.get("/volumes/").content.decode()

    assert scans_of_the_ledger(queries) == []
    assert "<strong>3</strong> volumes" in html
    assert '<strong class="reclaimable-bytes">3.0\xa0GB</strong>' in html
    # The owners suggested in the filter come from the same cache.
    assert '<option value="alice"><option value="bob">' in html


# --- Every writer: the next read shows its write -------------------------------------


def seen(name, **labels):
    return engine.VolumeSeen(
        name=name, driver="local", labels=labels, created=None, options={}
    )


def test_a_refresh_shows_at_once(admin_client, api, endpoint, make_volume):
    make_volume("stays", status=Volume.Status.DANGLING, managed=False)
    make_volume("vanishes", status=Volume.Status.DANGLING, managed=False)
    assert api()["count"] == 2 and page_totals(admin_client) == (2, 2, 2)
    listing = engine.Inventory(
        volumes=[seen("stays"), seen("new-1"), seen("new-2")],
        containers=[
            engine.ContainerSeen(
                name="web", image="x", state="running", volumes=["stays"]
            )
        ],
        calls=2,
    )

    with mock.patch.object(engine, "volume_inventory", return_value=listing):
        result = ledger.refresh(endpoint)

    assert result.gone == 1
    after = api()
    assert after["count"] == 3
    assert after["names"] == ["new-1", "new-2", "stays"]
    assert page_totals(admin_client) == (3, 2, 3)  # "stays" is in use now


def test_the_events_watcher_rescan_shows_at_once(api, endpoint, make_volume):
    make_volume("old", status=Volume.Status.DANGLING, managed=False)
    assert api()["count"] == 1
    listing = engine.Inventory(
        volumes=[seen("old"), seen("fresh")], containers=[], calls=2
    )
    rescans = watcher.EndpointWatcher(endpoint.pk, threading.Event())
    with mock.patch.object(engine, "volume_inventory", return_value=listing):
        rescans.rescan()

    assert api()["count"] == 2


@pytest.fixture
def host(developer, endpoint):
    return BuildHost.objects.create(
        owner=developer,
        endpoint=endpoint,
        name="bh-1",
        image="dch-photon",
        state=BuildHost.State.PROVISIONING,
        expires_at=timezone.now() + timedelta(hours=8),
    )


def test_provisioning_and_removal_of_a_build_host_show_at_once(admin_client, api, host):
    assert api()["count"] == 0

    ledger.note_build_host_volumes(host, "attached")
    attached = api()
    assert attached["count"] == 2 and attached["owners"] == {}  # in use
    assert page_totals(admin_client) == (2, 0, 2)

    ledger.note_build_host_volumes(host, "detached")
    assert api()["owners"] == {"alice": 2}
    assert page_totals(admin_client) == (2, 2, 2)

    ledger.note_build_host_volumes(host, "gone")
    assert api()["count"] == 0
    assert page_totals(admin_client) == (0, 0, 0)


def test_a_volume_the_watcher_noted_first_is_taken_over_in_its_row(
    api, host, make_volume
):
    # The events watcher saw the data volume created before provisioning
    # noted it: a stranger's, as far as it could tell.
    first = make_volume(
        host.volume_name("docker-data"), status=Volume.Status.DANGLING, managed=False
    )

    ledger.note_build_host_volumes(host, "attached")

    data = Volume.objects.get(name=host.volume_name("docker-data"))
    assert data.pk == first.pk and data.first_seen == first.first_seen
    assert data.size_bytes == first.size_bytes  # what the upsert does not name
    assert (data.managed, data.build_host_id, data.role, data.owner_name) == (
        True,
        host.pk,
        "docker-data",
        "alice",
    )
    assert (data.status, data.attached_to) == (
        Volume.Status.IN_USE,
        [host.container_name],
    )
    assert sorted(Volume.objects.values_list("name", flat=True)) == sorted(
        host.volume_names
    )
    assert api()["count"] == 2


def test_measured_sizes_show_at_once(api, endpoint, make_volume):
    make_volume("a", size_bytes=None, size_measured_at=None)
    make_volume("b", size_bytes=None, size_measured_at=None)
    assert api()["bytes"] == 0

    with mock.patch.object(
        engine, "volume_sizes", return_value={"a": 3 * GIB, "b": GIB}
    ):
        assert ledger.measure_sizes(endpoint) == 2

    assert api()["bytes"] == 4 * GIB


def test_an_executed_clean_up_shows_at_once(admin_client, api, admin, make_volume):
    make_volume("dchweb-a-data")
    make_volume("dchweb-b-data", owner_name="bob")
    make_volume("stranger", status=Volume.Status.DANGLING, managed=False)
    assert api()["count"] == 3 and page_totals(admin_client) == (3, 3, 3)
    plan = volumes.make_plan(admin, {"status": "orphaned"}, source="cli")

    with (
        mock.patch.object(engine, "volume_users", return_value=[]),
        mock.patch.object(engine, "remove_volume", return_value=True),
    ):
        volumes.execute(admin, plan, now=True, source="cli")

    after = api()
    assert after["count"] == 1 and after["owners"] == {"": 1}
    assert page_totals(admin_client) == (1, 1, 1)


def test_the_reap_policy_shows_at_once(api, make_volume):
    make_volume("dchweb-old-data", detached_since=timezone.now() - timedelta(days=9))
    assert api()["count"] == 1

    with (
        mock.patch.object(engine, "volume_users", return_value=[]),
        mock.patch.object(engine, "remove_volume", return_value=True),
    ):
        plan = cleanup.reap_orphaned(0)

    assert plan.state == "done"
    assert api()["count"] == 0


def test_an_endpoint_renamed_or_deleted_shows_at_once(api, endpoint, make_volume):
    make_volume("a")
    assert api()["endpoints"] == {"local": 1}

    Endpoint.objects.filter(pk=endpoint.pk).update(name="vch-renamed")
    assert api()["endpoints"] == {"vch-renamed": 1}

    endpoint.delete()  # its ledger rows go with it
    assert api()["count"] == 0


def test_writes_by_hand_show_at_once(admin_client, api, make_volume):
    """The ORM's every way, and raw SQL: the database bumps the stamp."""
    volume = make_volume("a")
    assert page_totals(admin_client) == (1, 1, 1)

    volume.status = Volume.Status.IN_USE
    volume.save()
    assert page_totals(admin_client) == (1, 0, 1)

    Volume.objects.bulk_create(
        [Volume(endpoint=volume.endpoint, name="b", status=Volume.Status.IN_USE)]
    )
    assert page_totals(admin_client) == (2, 0, 2)

    Volume.objects.filter(name="b").update(status=Volume.Status.DANGLING)
    assert page_totals(admin_client) == (2, 1, 2)

    with connection.cursor() as cursor:
        cursor.execute("UPDATE hosts_volume SET present = %s", [False])
    assert page_totals(admin_client) == (0, 0, 0)

    Volume.objects.all().delete()
    assert api()["count"] == 0


def test_a_rolled_back_write_leaves_the_totals_of_the_rows_that_stayed(
    api, make_volume
):
    make_volume("a")
    assert api()["count"] == 1

    with pytest.raises(RuntimeError), transaction.atomic():
        make_volume("b")
        assert api()["count"] == 2  # read inside: cached under its own stamp
        raise RuntimeError("rolled back")

    assert api()["count"] == 1
    make_volume("c")
    assert api()["count"] == 2


def test_the_older_than_filter_follows_the_clock_without_any_write(api, make_volume):
    make_volume("a", created_on_engine=timezone.now() - timedelta(days=2, hours=-1))
    assert api(older_than_days=2)["count"] == 0
    later = timezone.now() + timedelta(hours=2)

    with mock.patch.object(ledger.timezone, "now", return_value=later):
        assert api(older_than_days=2)["count"] == 1


def test_each_filter_has_its_own_totals(api, endpoint, make_volume):
    other = Endpoint.objects.create(
        name="vch-2", docker_url="unix:///x.sock", tls_mode="none", publish_host="h"
    )
    make_volume("a", owner_name="alice")
    make_volume("b", owner_name="bob", on=other)
    make_volume("c", status=Volume.Status.IN_USE)

    assert api()["count"] == 3
    assert api(owner="bob")["count"] == 1
    assert api(endpoint_id=endpoint.pk)["count"] == 2
    assert api(status="in_use")["count"] == 1
    assert api(managed=False)["count"] == 1
    assert api()["count"] == 3


# --- The stamp itself ----------------------------------------------------------------


def stamp():
    return VolumeLedgerStamp.objects.get().stamp


SKIPPED = {"id", "last_seen", "last_attached"}


def test_every_column_but_the_seen_and_attached_times_changes_the_stamp(make_volume):
    """A new Volume column must be added to the triggers (a new migration,
    like 0011): a refresh moves last_seen and last_attached on every row, and
    no total reads them, so those two alone do not."""
    volume = make_volume("a", build_host=None)
    other = Endpoint.objects.create(
        name="vch-2", docker_url="unix:///x.sock", tls_mode="none", publish_host="h"
    )
    values = {
        "endpoint_id": other.pk,
        "build_host_id": None,
        "cache_host_id": None,
        "cache_reuses": 3,
        "labels": {"k": "v"},
        "attached_to": ["c"],
        "managed": not volume.managed,
        "anonymous": not volume.anonymous,
        "present": not volume.present,
        "size_bytes": 7,
    }
    for field in Volume._meta.concrete_fields:
        if field.column in SKIPPED:
            continue
        before = stamp()
        if field.get_internal_type() == "DateTimeField":
            value = timezone.now() - timedelta(days=400)
        else:
            value = values.get(field.attname, f"x-{field.attname}"[: field.max_length])
        Volume.objects.filter(pk=volume.pk).update(**{field.attname: value})
        assert stamp() != before, f"updating {field.column} left the stamp"
    for column in ("last_seen", "last_attached"):
        before = stamp()
        Volume.objects.filter(pk=volume.pk).update(**{column: timezone.now()})
        assert stamp() == before, column


def test_a_cache_that_does_not_answer_costs_speed_not_answers(
    api, admin_client, make_volume, settings, caplog
):
    settings.CACHES = cache_settings("unix:///nonexistent/redis.sock")
    make_volume("a")
    make_volume("b", status=Volume.Status.IN_USE)

    assert api()["count"] == 2
    assert api()["bytes"] == GIB
    assert page_totals(admin_client)[:2] == (2, 1)
    assert "the cache did not answer" in caplog.text


# --- The page's rows: kept while what they show holds ------------------------------


def rows_of(html):
    return re.findall(r'<tr data-volume="([^"]+)"', html)


def test_a_repeated_page_reads_no_rows_and_shows_the_same(admin_client, make_volume):
    make_volume("a")
    make_volume("b")
    first = admin_client.get("/volumes/").content.decode()

    with CaptureQueriesContext(connection) as queries:
        again = admin_client.get("/volumes/").content.decode()

    assert rows_of(first) == rows_of(again) == ["a", "b"]
    reads_of_rows = [q["sql"] for q in queries if '"hosts_volume"."name"' in q["sql"]]
    assert reads_of_rows == []


def test_the_rows_ages_move_on_with_the_clock_without_any_write(
    admin_client, make_volume
):
    born = timezone.now() - timedelta(seconds=90)
    make_volume("young", created_on_engine=born)
    assert "1\xa0minute" in admin_client.get("/volumes/").content.decode()

    later = born + timedelta(minutes=2, seconds=5)
    with mock.patch("hosts.web.volumes.timezone.now", return_value=later):
        html = admin_client.get("/volumes/").content.decode()

    assert "2\xa0minutes" in html and "1\xa0minute<" not in html


def test_a_renamed_endpoint_shows_in_the_rows_at_once(
    admin_client, endpoint, make_volume
):
    make_volume("a")
    assert "<td>local</td>" in admin_client.get("/volumes/").content.decode()

    Endpoint.objects.filter(pk=endpoint.pk).update(name="vch-renamed")

    html = admin_client.get("/volumes/").content.decode()
    assert "<td>vch-renamed</td>" in html and "<td>local</td>" not in html


def test_each_sort_and_page_has_its_own_rows(admin_client, make_volume):
    for name in ("a", "b", "c"):
        make_volume(name)
    assert rows_of(admin_client.get("/volumes/?sort=name").content.decode()) == [
        "a",
        "b",
        "c",
    ]
    assert rows_of(admin_client.get("/volumes/?sort=-name").content.decode()) == [
        "c",
        "b",
        "a",
    ]
