"""Owners clean up after themselves, on the pages and the API without an
engine (ledger rows made directly, the worker's enqueue stubbed): a
developer sees, selects and plans their own volumes only; an owner answers
a notice from the page; the API refuses what is not theirs, answers past
the notice's end, bad answers and a keep past their budget, in words.
The engine's part (removal, the in-use re-check, the notice's end carried
out by a worker) is tests/integration/volumes/test_owner_cleanup.py."""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from hosts.models import CleanupItem, CleanupPlan, Notification
from hosts.volumes import commands as volumes
from tests.support import world

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ENQUEUE_CLEANUP = "hosts.volumes.tasks.execute_cleanup.delay"
DISPATCH = "hosts.notifications.outbox.send_on_commit"


@pytest.fixture
def volumes_of_three(make_volume):
    """alice's two, bob's one, and one that is nobody's (not dchweb's)."""
    return {
        "mine-1": make_volume("mine-1"),
        "mine-2": make_volume("mine-2"),
        "bobs": make_volume("bobs", owner_name="bob"),
        "stray": make_volume("stray", status="dangling"),
    }


@pytest.fixture
def notice(admin, developer, other_developer, volumes_of_three):
    """An admin's plan of every orphaned volume, sent as a notice."""
    with mock.patch(DISPATCH):
        return volumes.make_plan(
            admin,
            {"status": "orphaned", "notice_days": 3, "keep_days_allowed": 5},
            source="cli",
        )


def item_of(plan, name):
    return plan.items.get(volume_name=name)


def test_a_developer_sees_and_plans_their_own_volumes_only(
    client, developer, volumes_of_three
):
    client.force_login(developer)

    html = client.get("/volumes/").content.decode()
    filtered = client.get("/volumes/?owner=bob", **HTMX).content.decode()
    every_id = [volume.pk for volume in volumes_of_three.values()]
    with mock.patch(ENQUEUE_CLEANUP):
        client.post("/volumes/plans/", {"mode": "selection", "volume": every_id})

    assert 'data-volume="mine-1"' in html and 'data-volume="mine-2"' in html
    assert "bobs" not in html and "stray" not in html
    assert 'value="bob"' not in html  # no other owner suggested
    assert 'data-volume="' not in filtered.split('id="volume-ledger"')[1]
    plan = CleanupPlan.objects.get(planned_by=developer)
    assert sorted(plan.items.values_list("volume_name", flat=True)) == [
        "mine-1",
        "mine-2",
    ]
    assert client.get(f"/volumes/plans/{plan.pk}/").status_code == 200


def test_the_api_lists_a_developers_own_volumes_and_an_admins_all(
    developer, admin, volumes_of_three
):
    def names(user):
        rows = world.api_client(user).get("/api/v1/volumes").json()["items"]
        return sorted(row["name"] for row in rows)

    assert names(developer) == ["mine-1", "mine-2"]
    assert names(admin) == ["bobs", "mine-1", "mine-2", "stray"]


def test_an_owner_answers_a_notice_from_the_page(
    client, developer, other_developer, notice
):
    kept, released = item_of(notice, "mine-1"), item_of(notice, "mine-2")
    client.force_login(developer)

    home = client.get("/").content.decode()
    no_reason = client.post(
        f"/volumes/notices/{kept.pk}/keep/", {"reason": "", "days": "2"}, **HTMX
    ).content.decode()
    answered = client.post(
        f"/volumes/notices/{kept.pk}/keep/",
        {"reason": "the nightly cache", "days": "2"},
        **HTMX,
    ).content.decode()
    client.post(f"/volumes/notices/{released.pk}/release/", **HTMX)
    polled = client.get("/volumes/notices/", **HTMX).content.decode()

    assert 'data-volume="mine-1"' in home and 'data-volume="bobs"' not in home
    assert "say why you keep this volume" in no_reason
    assert "Kept</span> until" in answered and "the nightly cache" in answered
    assert 'data-volume="mine-2" data-answer="release"' in polled
    kept.refresh_from_db()
    assert kept.answer == "keep" and kept.keep_until > timezone.now()
    # Another developer's answer is about nothing they can see.
    client.force_login(other_developer)
    refused = client.post(f"/volumes/notices/{kept.pk}/release/", **HTMX)
    assert refused.status_code == 404
    kept.refresh_from_db()
    assert kept.answer == "keep"


def test_the_api_refuses_what_is_not_theirs_and_answers_out_of_bounds(
    developer, other_developer, admin, notice, settings
):
    alice, bob = world.api_client(developer), world.api_client(other_developer)
    url = f"/api/v1/cleanup-plans/{notice.pk}/items"
    mine = item_of(notice, "mine-1")

    def keep(client, item, **body):
        return client.post(
            f"{url}/{item.pk}/keep", data=body, content_type="application/json"
        )

    assert keep(bob, mine, reason="x", days=1).status_code == 404
    assert bob.get(f"/api/v1/cleanup-plans/{notice.pk}").status_code == 404
    assert (
        alice.post(
            "/api/v1/cleanup-plans",
            data={"notice_days": 3},
            content_type="application/json",
        ).status_code
        == 403
    )
    out_of_range = world.api_client(admin).post(
        "/api/v1/cleanup-plans",
        data={"notice_days": 31},
        content_type="application/json",
    )
    assert out_of_range.status_code == 400
    assert "1 to 30" in out_of_range.json()["detail"]
    # Past the owner's budget (what removed hosts left is kept already).
    settings.DCHWEB_USER_BUDGET_GB = 1
    over = keep(alice, mine, reason="the nightly cache", days=1)
    assert over.status_code == 409 and over.json()["error"] == "over_budget"
    assert "budget" in over.json()["detail"]
    settings.DCHWEB_USER_BUDGET_GB = 0
    # The notice's time is up: no answer is taken, even before the pass ran.
    CleanupPlan.objects.filter(pk=notice.pk).update(
        notice_ends_at=timezone.now() - timedelta(seconds=1)
    )
    late = keep(alice, mine, reason="the nightly cache", days=1)
    assert late.status_code == 409
    assert late.json() == {
        "error": "notice_over",
        "detail": "The notice for this clean-up has ended: answers are no longer "
        "taken.",
    }
    assert CleanupItem.objects.get(pk=mine.pk).answer == ""


def test_an_admin_sends_a_draft_plan_to_the_owners_from_its_page(
    client, admin, developer, other_developer, volumes_of_three
):
    plan = volumes.make_plan(admin, {"status": "orphaned"}, source="cli")
    url = f"/volumes/plans/{plan.pk}/notice/"
    client.force_login(developer)
    assert client.post(url, {"notice_days": "3"}, **HTMX).status_code == 403
    client.force_login(admin)

    refused = client.post(url, {"notice_days": "0"}, **HTMX).content.decode()
    with mock.patch(DISPATCH) as dispatch:
        sent = client.post(
            url, {"notice_days": "3", "keep_days_allowed": "5"}, **HTMX
        ).content.decode()

    assert "the notice is a whole number of days, 1 to 30" in refused
    assert 'data-state="notice"' in sent and "Sent to the owners" in sent
    plan.refresh_from_db()
    assert (plan.state, plan.notice_days, plan.keep_days_allowed) == ("notice", 3, 5)
    told = Notification.objects.filter(event="cleanup.notice")
    assert sorted(told.values_list("owner__username", flat=True)) == ["alice", "bob"]
    assert dispatch.call_count == 2
