"""The volumes page: the whole ledger for admins, a developer's own volumes
for them; filters, sort, pages, totals, fragments, the refresh it follows,
and a clean-up plan made, executed and followed. No engine here: ledger rows
are made directly, and the enqueues (refresh, execute_cleanup) are stubbed."""

import re
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hosts.models import BuildHost, CleanupItem, CleanupPlan, Endpoint, Volume
from hosts.volumes import commands as volumes

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ENQUEUE_REFRESH = "hosts.volumes.tasks.refresh_volumes.delay"
ENQUEUE_CLEANUP = "hosts.volumes.tasks.execute_cleanup.delay"
GIB = 1024**3


def table_names(response):
    """The volume names in the table, in order (the full name of an
    anonymous one is its title)."""
    html = response.content.decode()
    return re.findall(r'<tr data-volume="([^"]+)"', html.split('id="volume-ledger"')[1])


# --- Who may ------------------------------------------------------------------------

VOLUME_PATHS = [
    ("get", "/volumes/"),
    ("get", "/volumes/refresh/"),
    ("post", "/volumes/refresh/"),
    ("post", "/volumes/plans/"),
    ("get", "/volumes/plans/{plan}/"),
    ("post", "/volumes/plans/{plan}/execute/"),
]


@pytest.fixture
def draft_plan(admin, make_volume):
    make_volume("dchweb-aaaa-data")
    return volumes.make_plan(admin, {"status": "orphaned"}, source="cli")


# What a developer may not: rescan (403), see or run an admin's plan (404).
REFUSED_TO_A_DEVELOPER = [
    ("get", "/volumes/refresh/", 403),
    ("post", "/volumes/refresh/", 403),
    ("get", "/volumes/plans/{plan}/", 404),
    ("post", "/volumes/plans/{plan}/execute/", 404),
]


@pytest.mark.parametrize(("method", "path", "status"), REFUSED_TO_A_DEVELOPER)
@pytest.mark.parametrize("htmx", [False, True])
def test_a_developer_may_not_rescan_nor_touch_an_admins_plan(
    client, developer, draft_plan, method, path, status, htmx
):
    client.force_login(developer)

    with mock.patch(ENQUEUE_REFRESH) as refresh, mock.patch(ENQUEUE_CLEANUP):
        response = getattr(client, method)(
            path.format(plan=draft_plan.pk), **(HTMX if htmx else {})
        )

    assert response.status_code == status
    refresh.assert_not_called()
    draft_plan.refresh_from_db()
    assert draft_plan.state == CleanupPlan.State.DRAFT


@pytest.mark.parametrize(("method", "path"), VOLUME_PATHS)
def test_visitors_are_sent_to_the_login_page(client, draft_plan, method, path):
    path = path.format(plan=draft_plan.pk)

    response = getattr(client, method)(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_admins_see_the_volumes_link_and_developers_their_own(client, developer, admin):
    client.force_login(developer)
    assert 'href="/volumes/">My volumes</a>' in client.get("/").content.decode()
    client.force_login(admin)
    assert 'href="/volumes/">Volumes</a>' in client.get("/").content.decode()


# --- The table: filters, sort, pages, fragments ---------------------------------------


def test_each_row_says_whose_or_where_from_its_size_and_age(admin_client, make_volume):
    anonymous = "f" * 64
    make_volume("dchweb-aaaa-data")
    make_volume(
        anonymous,
        status=Volume.Status.DANGLING,
        anonymous=True,
        last_container="by-hand",
        last_image="dch-photon:20.10",
        size_bytes=None,
        size_measured_at=None,
    )
    make_volume("busy", status=Volume.Status.IN_USE, attached_to=["web-1"])

    html = admin_client.get("/volumes/").content.decode()

    assert "owner <strong>alice</strong>, docker-data" in html
    # An anonymous volume: shortened, with its full name in the title.
    assert f'title="{anonymous}">{anonymous[:12]}…</code>' in html
    assert (
        "from container <code>by-hand</code> (image <code>dch-photon:20.10</code>)"
        in html
    )
    assert "detached since" in html
    assert "attached to web-1" in html
    assert "1.0\xa0GB" in html and "unknown" in html
    assert "3\xa0days" in html
    assert 'class="badge volume-dangling"' in html


def test_filters_narrow_the_table_and_the_totals(
    admin_client, make_volume, other_endpoint
):
    make_volume("a-orphan")
    make_volume("b-dangling", status=Volume.Status.DANGLING)
    make_volume("c-in-use", status=Volume.Status.IN_USE)
    make_volume("d-elsewhere", on=other_endpoint, owner_name="bob")
    make_volume("e-young", created_on_engine=timezone.now() - timedelta(hours=1))
    make_volume("f-gone", present=False)

    def names(**query):
        return table_names(admin_client.get("/volumes/", query, **HTMX))

    assert names() == ["a-orphan", "b-dangling", "c-in-use", "d-elsewhere", "e-young"]
    assert names(status="orphaned") == ["a-orphan", "d-elsewhere", "e-young"]
    assert names(endpoint=other_endpoint.pk) == ["d-elsewhere"]
    assert names(owner="bob") == ["d-elsewhere"]
    assert names(managed="no") == ["b-dangling", "c-in-use"]
    assert names(older_than_days=2, status="orphaned") == ["a-orphan", "d-elsewhere"]
    # A bad value is shown and dropped; the rest still applies.
    response = admin_client.get("/volumes/", {"older_than_days": "x", "owner": "bob"})
    assert response.status_code == 200
    assert table_names(response) == ["d-elsewhere"]
    assert "Enter a whole number" in response.content.decode()


def test_sort_by_each_column_both_ways(admin_client, make_volume):
    make_volume(
        "b", size_bytes=3 * GIB, created_on_engine=timezone.now() - timedelta(days=9)
    )
    make_volume("a", size_bytes=None, status=Volume.Status.DANGLING)
    make_volume(
        "c", size_bytes=GIB, created_on_engine=timezone.now() - timedelta(days=1)
    )

    def order(sort):
        return table_names(admin_client.get("/volumes/", {"sort": sort}, **HTMX))

    assert order("name") == ["a", "b", "c"]
    assert order("-name") == ["c", "b", "a"]
    assert order("size") == ["a", "c", "b"]  # unknown first, then smallest
    assert order("-size") == ["b", "c", "a"]  # largest first, unknown last
    assert order("age") == ["c", "a", "b"]  # youngest first
    assert order("-age") == ["b", "a", "c"]
    assert order("status")[0] == "a"  # dangling < orphaned
    # A header link sorts the other way when it is the current sort.
    html = admin_client.get("/volumes/", {"sort": "size", "status": "orphaned"}).content
    assert b"/volumes/?status=orphaned&amp;sort=-size" in html


def test_fifty_a_page_and_the_pager_keeps_the_filters(admin_client, make_volume):
    for number in range(120):
        make_volume(f"v{number:03}")

    first = admin_client.get("/volumes/", {"status": "orphaned"}, **HTMX)
    third = admin_client.get("/volumes/", {"status": "orphaned", "page": 3}, **HTMX)

    assert len(table_names(first)) == 50
    assert table_names(third) == [f"v{number:03}" for number in range(100, 120)]
    html = first.content.decode()
    assert "Page 1 of 3 · 120 volumes" in html
    assert 'href="/volumes/?status=orphaned&amp;sort=name&amp;page=2"' in html


def test_a_fragment_on_htmx_and_the_whole_page_otherwise(admin_client, make_volume):
    make_volume("one")

    page = admin_client.get("/volumes/").content.decode()
    fragment = admin_client.get("/volumes/", **HTMX).content.decode()

    assert page.startswith("<!doctype html>") and 'id="volume-filters"' in page
    assert 'id="volume-refresh"' in page and 'id="cleanup-plan"' in page
    assert fragment.lstrip().startswith('<div id="volume-ledger"')
    assert "<html" not in fragment and 'id="volume-filters"' not in fragment
    # It reloads itself, same query, when a rescan or a clean-up ends.
    assert 'hx-trigger="volumes-changed from:body"' in fragment


def test_names_and_provenance_are_escaped(admin_client, make_volume):
    make_volume(
        "<script>alert(1)</script>",
        status=Volume.Status.DANGLING,
        last_container='"><img src=x onerror=alert(2)>',
        last_image="<b>image</b>",
    )

    html = admin_client.get("/volumes/").content.decode()

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<img src=x" not in html and "<b>image</b>" not in html


def test_totals_per_owner_and_endpoint_count_only_what_is_not_in_use(
    admin_client, make_volume, other_endpoint
):
    make_volume("a", size_bytes=2 * GIB)
    make_volume("b", size_bytes=GIB, owner_name="bob", on=other_endpoint)
    make_volume("c", status=Volume.Status.IN_USE, size_bytes=50 * GIB)
    make_volume("d", size_bytes=None, size_measured_at=None, owner_name="carol")

    html = admin_client.get("/volumes/").content.decode()

    assert "<strong>4</strong> volumes" in html
    assert "<strong>3</strong> not in use" in html
    assert '<strong class="reclaimable-bytes">3.0\xa0GB</strong>' in html
    assert "+ 1 of unknown size (not measured yet)" in html
    assert "sizes as of" in html
    by_owner = html.split('id="totals-by-owner"')[1].split("</table>")[0]
    assert re.search(r"alice</td><td>1</td>\s*<td>2.0\xa0GB", by_owner)
    assert re.search(r"bob</td><td>1</td>\s*<td>1.0\xa0GB", by_owner)
    assert re.search(
        r'carol</td><td>1</td>\s*<td><span class="muted">unknown', by_owner
    )
    by_endpoint = html.split('id="totals-by-endpoint"')[1].split("</table>")[0]
    assert re.search(r"local</td><td>2</td>\s*<td>2.0\xa0GB", by_endpoint)
    assert re.search(r"vch-2</td><td>1</td>\s*<td>1.0\xa0GB", by_endpoint)


def _queries_for_page(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/volumes/", {"sort": "-size"})
    assert response.status_code == 200
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_rows(
    admin_client, make_volume, other_endpoint
):
    for number in range(10):
        make_volume(f"few-{number}", **({"on": other_endpoint} if number % 2 else {}))
    few = _queries_for_page(admin_client)
    for number in range(200):
        make_volume(
            f"many-{number}",
            status=[Volume.Status.ORPHANED, Volume.Status.DANGLING][number % 2],
            last_container=f"c-{number}",
            owner_name=f"user-{number % 7}",
        )

    many = _queries_for_page(admin_client)

    assert many == few, (few, many)
    # The totals, the owners' and the build caches' tables, each read once
    # per state of the ledger, plus the page's own rows.
    assert many <= 24


# --- Rendered once per state of the ledger ------------------------------------------

ROWS = "hosts/volumes/partials/volume_rows.html"
TOTALS = "hosts/volumes/partials/volume_totals.html"
OWNERS = "hosts/volumes/partials/volume_owners.html"


def rendered(response):
    return {template.name for template in response.templates}


def row_of(html, name):
    return html.split(f'<tr data-volume="{name}"')[1].split("</tr>")[0]


def test_rows_totals_and_owners_are_rendered_again_only_after_a_write(
    admin_client, make_volume
):
    volume = make_volume("a")
    first = admin_client.get("/volumes/")
    again = admin_client.get("/volumes/")

    assert {ROWS, TOTALS, OWNERS} <= rendered(first)
    assert not {ROWS, TOTALS, OWNERS} & rendered(again)
    assert 'data-volume="a" data-status="orphaned"' in again.content.decode()
    assert '<option value="alice">' in again.content.decode()

    Volume.objects.filter(pk=volume.pk).update(
        status=Volume.Status.DANGLING, owner_name="bob"
    )
    after = admin_client.get("/volumes/")

    assert {ROWS, TOTALS, OWNERS} <= rendered(after)
    html = after.content.decode()
    assert 'data-volume="a" data-status="dangling"' in html
    assert '<option value="bob">' in html and '<option value="alice">' not in html


def test_the_older_than_filter_renders_every_time(admin_client, make_volume):
    make_volume("a")
    query = {"older_than_days": 2}

    admin_client.get("/volumes/", query, **HTMX)
    again = admin_client.get("/volumes/", query, **HTMX)

    assert {ROWS, TOTALS} <= rendered(again)
    assert table_names(again) == ["a"]


def test_a_renamed_endpoint_shows_in_the_rows_and_totals_at_once(
    admin_client, make_volume, endpoint
):
    make_volume("a")
    admin_client.get("/volumes/")

    Endpoint.objects.filter(pk=endpoint.pk).update(name="vch-renamed")
    html = admin_client.get("/volumes/").content.decode()

    assert "<td>vch-renamed</td>" in row_of(html, "a")
    by_endpoint = html.split('id="totals-by-endpoint"')[1].split("</table>")[0]
    assert "vch-renamed" in by_endpoint and "local" not in by_endpoint


def test_ages_follow_the_clock_without_any_write(admin_client, make_volume):
    make_volume("a", created_on_engine=timezone.now() - timedelta(days=3, hours=1))
    assert ">3\xa0days, 1\xa0hour</span>" in row_of(
        admin_client.get("/volumes/").content.decode(), "a"
    )
    later = timezone.now() + timedelta(days=2)

    with mock.patch.object(timezone, "now", return_value=later):
        html = admin_client.get("/volumes/").content.decode()

    assert ">5\xa0days, 1\xa0hour</span>" in row_of(html, "a")


def test_times_are_written_in_the_current_time_zone(
    admin_client, make_volume, settings
):
    settings.TIME_ZONE = "Asia/Kathmandu"  # UTC+05:45: the minutes and the day move
    moment = datetime(2026, 3, 1, 20, 30, 15, tzinfo=UTC)
    make_volume(
        "a", created_on_engine=moment, detached_since=moment, size_measured_at=moment
    )

    row = row_of(admin_client.get("/volumes/").content.decode(), "a")

    assert "detached since 2026-03-02 02:15</small>" in row
    assert '<span title="as of 2026-03-02 02:15:15">1.0\xa0GB</span>' in row
    assert "as of 03-02 02:15</small>" in row
    assert '<span title="created 2026-03-02 02:15">' in row


def test_a_build_hosts_volume_links_to_its_host(admin_client, make_volume, developer):
    host = BuildHost.objects.create(
        owner=developer,
        endpoint=Endpoint.objects.get(name="local"),
        name="bh-linked",
        image="dch-photon",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timedelta(hours=8),
    )
    make_volume("dchweb-linked-data", build_host=host)

    row = row_of(admin_client.get("/volumes/").content.decode(), "dchweb-linked-data")

    assert f'of <a href="/build-hosts/{host.pk}/">bh-linked</a>' in row
    assert 'title="Orphaned (dchweb&#x27;s, not attached)"' in row


# --- Refresh ------------------------------------------------------------------------


def test_refresh_enqueues_a_rescan_and_polls_until_the_ledger_is_newer(
    admin_client, make_volume, endpoint
):
    make_volume("old", last_seen=timezone.now() - timedelta(hours=1))
    with mock.patch(ENQUEUE_REFRESH) as refresh:
        asked = admin_client.post(
            "/volumes/refresh/", {"endpoint": endpoint.pk}, **HTMX
        )

    refresh.assert_called_once_with(endpoint.pk)
    html = asked.content.decode()
    assert 'data-state="listing"' in html and 'hx-trigger="every 2s"' in html
    poll_url = re.search(r'hx-get="([^"]+)"', html)[1].replace("&amp;", "&")
    assert poll_url.startswith("/volumes/refresh/?since=")
    assert "HX-Trigger" not in asked

    still = admin_client.get(poll_url, **HTMX)
    assert 'data-state="listing"' in still.content.decode()
    assert "HX-Trigger" not in still

    # The worker lists (sizes not yet), then measures.
    Volume.objects.update(last_seen=timezone.now())
    listed = admin_client.get(poll_url, **HTMX)
    assert 'data-state="sizing"' in listed.content.decode()
    Volume.objects.update(size_measured_at=timezone.now())
    done = admin_client.get(poll_url, **HTMX)

    html = done.content.decode()
    assert 'data-state="done"' in html and "every 2s" not in html
    assert done["HX-Trigger"] == "volumes-changed"  # the ledger reloads


def test_refresh_gives_up_after_two_minutes_with_a_message(admin_client, make_volume):
    make_volume("old", last_seen=timezone.now() - timedelta(hours=1))
    since = (timezone.now() - timedelta(seconds=121)).timestamp()

    response = admin_client.get("/volumes/refresh/", {"since": since}, **HTMX)

    html = response.content.decode()
    assert 'data-state="gave_up"' in html and "every 2s" not in html
    assert "No rescan result after 120 s" in html


def test_listed_without_sizes_for_a_while_is_done_too(admin_client, make_volume):
    since = timezone.now() - timedelta(seconds=30)
    make_volume("v", last_seen=since + timedelta(seconds=1), size_measured_at=None)

    response = admin_client.get(
        "/volumes/refresh/", {"since": since.timestamp()}, **HTMX
    )

    assert 'data-state="unsized"' in response.content.decode()
    assert response["HX-Trigger"] == "volumes-changed"


@pytest.mark.parametrize("since", ["", "nan", "inf", "-1", "abc", "99999999999"])
def test_a_refresh_status_without_a_sensible_time_does_not_poll(admin_client, since):
    response = admin_client.get("/volumes/refresh/", {"since": since}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-state="idle"' in html and "every 2s" not in html


def test_a_plain_post_refresh_goes_back_to_the_page_with_a_message(admin_client):
    with mock.patch(ENQUEUE_REFRESH) as refresh:
        response = admin_client.post("/volumes/refresh/", follow=True)

    refresh.assert_called_once_with(None)
    assert response.redirect_chain[-1][0] == "/volumes/"
    assert "Rescanning in the background." in response.content.decode()


def test_a_broker_that_does_not_answer_is_a_message(admin_client):
    from kombu.exceptions import OperationalError

    with mock.patch(ENQUEUE_REFRESH, side_effect=OperationalError("down")):
        response = admin_client.post("/volumes/refresh/", **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "The task queue does not answer" in html and "every 2s" not in html


# --- Clean-up: plan, execute, follow ------------------------------------------------


def test_plan_by_rule_uses_the_filters_and_lists_count_bytes_and_reasons(
    admin_client, make_volume, admin
):
    make_volume("dchweb-a-data", size_bytes=2 * GIB)
    make_volume("dchweb-b-data", size_bytes=GIB, owner_name="bob")
    make_volume("stranger", status=Volume.Status.DANGLING)
    make_volume("busy", status=Volume.Status.IN_USE, managed=True)

    response = admin_client.post(
        "/volumes/plans/",
        {"mode": "rule", "status": "orphaned", "owner": "alice"},
        **HTMX,
    )

    assert response.status_code == 200
    plan = CleanupPlan.objects.get()
    assert plan.state == CleanupPlan.State.DRAFT
    assert plan.planned_by == admin
    assert plan.rule == {"status": "orphaned", "owner": "alice"}
    assert list(plan.items.values_list("volume_name", flat=True)) == ["dchweb-a-data"]
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="cleanup-plan"')
    assert '<strong class="plan-count">1</strong> volume,' in html
    assert '<strong class="plan-bytes">2.0\xa0GB</strong>' in html
    assert "orphaned: dchweb&#x27;s (docker-data of alice)" in html
    assert "Execute this plan" in html and "hx-confirm=" in html
    assert "every 2s" not in html  # a draft does not poll


def test_plan_from_selected_volumes_names_them_one_by_one(admin_client, make_volume):
    chosen = make_volume("stranger-1", status=Volume.Status.DANGLING)
    make_volume("stranger-2", status=Volume.Status.DANGLING)
    busy = make_volume("busy", status=Volume.Status.IN_USE)

    response = admin_client.post(
        "/volumes/plans/",
        {"mode": "selection", "volume": [chosen.pk, busy.pk, "junk"]},
        **HTMX,
    )

    plan = CleanupPlan.objects.get()
    # Not dchweb's, so only because named; never the one in use.
    assert list(plan.items.values_list("volume_name", flat=True)) == ["stranger-1"]
    endpoint_id = chosen.endpoint_id
    assert plan.rule["volumes"] == [[endpoint_id, "busy"], [endpoint_id, "stranger-1"]]
    assert "named by an admin" in response.content.decode()


def test_a_selection_across_endpoints_takes_each_name_on_its_own_endpoint_only(
    admin_client, make_volume, other_endpoint
):
    here = make_volume("same", status=Volume.Status.DANGLING)
    make_volume("same", status=Volume.Status.DANGLING, on=other_endpoint)
    there = make_volume("other", status=Volume.Status.DANGLING, on=other_endpoint)

    response = admin_client.post(
        "/volumes/plans/", {"mode": "selection", "volume": [here.pk, there.pk]}, **HTMX
    )

    assert response.status_code == 200
    plan = CleanupPlan.objects.get()
    chosen = set(plan.items.values_list("endpoint_id", "volume_name"))
    # Not the "same" on the other endpoint, which was not selected.
    assert chosen == {(here.endpoint_id, "same"), (other_endpoint.pk, "other")}


def test_a_rule_with_malformed_volume_pairs_is_refused(admin):
    with pytest.raises(volumes.CleanupInvalid, match="endpoint_id, name"):
        volumes.make_plan(admin, {"volumes": [["x", "name"]]})
    with pytest.raises(volumes.CleanupInvalid, match="endpoint_id, name"):
        volumes.make_plan(admin, {"volumes": ["just-a-name"]})
    assert not CleanupPlan.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"mode": "selection"}, "select at least one volume"),
        ({"mode": "rule", "status": "in_use"}, "volumes in use are never cleaned up"),
        ({"mode": "rule", "older_than_days": "-3"}, "older_than_days"),
        ({"mode": "rule", "endpoint": "999"}, "endpoint"),
    ],
)
def test_an_invalid_plan_is_a_message_not_an_error_page(
    admin_client, make_volume, data, message
):
    make_volume("v")

    response = admin_client.post("/volumes/plans/", data, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'role="alert"' in html and message in html
    assert not CleanupPlan.objects.exists()


def test_an_invalid_plan_without_htmx_goes_back_with_a_message(admin_client):
    response = admin_client.post("/volumes/plans/", {"mode": "selection"}, follow=True)

    assert response.redirect_chain[-1][0] == "/volumes/"
    assert "No plan: select at least one volume" in response.content.decode()


def test_execute_approves_the_plan_enqueues_it_and_polls_until_done(
    admin_client, make_volume, admin, django_capture_on_commit_callbacks
):
    make_volume("dchweb-a-data", size_bytes=2 * GIB)
    make_volume("dchweb-b-data", size_bytes=GIB)
    admin_client.post("/volumes/plans/", {"mode": "rule"}, **HTMX)
    plan = CleanupPlan.objects.get()

    with (
        mock.patch(ENQUEUE_CLEANUP) as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_client.post(f"/volumes/plans/{plan.pk}/execute/", **HTMX)

    enqueue.assert_called_once_with(plan.pk)
    plan.refresh_from_db()
    assert plan.state == CleanupPlan.State.EXECUTING
    assert plan.approved_by == admin
    html = response.content.decode()
    assert 'data-state="executing"' in html
    assert f'hx-get="/volumes/plans/{plan.pk}/?poll=1" hx-trigger="every 2s"' in html
    assert "Execute this plan" not in html

    # The worker's part, as run_plan records it.
    items = list(plan.items.order_by("volume_name"))
    items[0].result = CleanupItem.Result.REMOVED
    items[0].save()
    partway = admin_client.get(f"/volumes/plans/{plan.pk}/?poll=1", **HTMX)
    assert "1 of 2 to go" in partway.content.decode()
    assert "HX-Trigger" not in partway
    items[1].result, items[1].detail = CleanupItem.Result.SKIPPED_IN_USE, "used by x"
    items[1].save()
    CleanupPlan.objects.filter(pk=plan.pk).update(
        state=CleanupPlan.State.DONE, reclaimed_bytes=2 * GIB
    )
    done = admin_client.get(f"/volumes/plans/{plan.pk}/?poll=1", **HTMX)

    html = done.content.decode()
    assert 'data-state="done"' in html and "every 2s" not in html
    assert '<strong class="reclaimed-bytes">2.0\xa0GB</strong>' in html
    assert "Removed 1, skipped in use 1, not found 0, errors 0" in html
    assert 'data-volume="dchweb-a-data" data-result="removed"' in html
    assert 'data-volume="dchweb-b-data" data-result="skipped_in_use"' in html
    assert "used by x" in html
    assert done["HX-Trigger"] == "volumes-changed"


def test_executing_a_plan_twice_is_a_message(
    admin_client, draft_plan, django_capture_on_commit_callbacks
):
    with (
        mock.patch(ENQUEUE_CLEANUP) as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        admin_client.post(f"/volumes/plans/{draft_plan.pk}/execute/", **HTMX)
        again = admin_client.post(f"/volumes/plans/{draft_plan.pk}/execute/", **HTMX)

    assert again.status_code == 200
    assert "this plan is executing: make a new one" in again.content.decode()
    assert enqueue.call_count == 1


def test_a_plan_has_its_own_page(admin_client, draft_plan):
    response = admin_client.get(f"/volumes/plans/{draft_plan.pk}/")

    html = response.content.decode()
    assert html.startswith("<!doctype html>")
    assert f"Clean-up plan {draft_plan.pk}" in html and "dchweb-aaaa-data" in html
    assert admin_client.get("/volumes/plans/99999/").status_code == 404


def test_a_plain_post_execute_redirects_to_the_plan_page(
    admin_client, draft_plan, django_capture_on_commit_callbacks
):
    with (
        mock.patch(ENQUEUE_CLEANUP),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = admin_client.post(f"/volumes/plans/{draft_plan.pk}/execute/")

    assert response.status_code == 302
    assert response["Location"] == f"/volumes/plans/{draft_plan.pk}/"


# --- Home: space left behind ---------------------------------------------------------


def test_home_shows_the_space_a_developer_left_behind(client, developer, make_volume):
    make_volume("mine-1", size_bytes=2 * GIB)
    make_volume("mine-2", size_bytes=GIB)
    make_volume("mine-busy", status=Volume.Status.IN_USE, owner_name="alice")
    make_volume("theirs", owner_name="bob")
    client.force_login(developer)

    html = client.get("/").content.decode()

    assert "Space you left behind" in html
    assert '<strong class="left-volumes">2 volumes</strong>' in html
    assert '<strong class="left-bytes">3.0\xa0GB</strong>' in html
    assert '<a href="/volumes/">See and clean them up</a>' in html


def test_home_says_nothing_is_left_behind(client, developer):
    client.force_login(developer)

    assert "no volume of yours is left behind" in client.get("/").content.decode()
