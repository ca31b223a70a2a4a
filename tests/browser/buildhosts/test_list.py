"""The build-host list in Chromium: search and filter it in place (a
developer their own hosts, by state; an admin everyone's, by owner too), and
two hosts of the same name told apart on home. At 390 px nothing scrolls
sideways."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.models import BuildHost
from tests.support import world
from tests.support.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def make_host(owner, endpoint, name, state=BuildHost.State.READY, **values):
    values.setdefault("expires_at", timezone.now() + timedelta(hours=8))
    return BuildHost.objects.create(
        owner=owner, endpoint=endpoint, name=name, image="x", state=state, **values
    )


def shown_hosts(page):
    """The names in the list as the page shows it now."""
    return sorted(
        page.locator("#build-host-table tbody tr td:first-child a").all_inner_texts()
    )


def scrolls_sideways(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )


@pytest.fixture
def hosts(developer, other_developer):
    endpoint = world.unreachable_endpoint("local")
    return {
        "web": make_host(developer, endpoint, "web-builder"),
        "api": make_host(developer, endpoint, "api-builder"),
        "old": make_host(
            developer, endpoint, "old-builder", state=BuildHost.State.REMOVED
        ),
        "bobs": make_host(other_developer, endpoint, "bobs-builder"),
    }


def test_a_developer_filters_their_own_hosts_by_state_and_searches_them(
    live_server, page, hosts
):
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/")
    assert shown_hosts(page) == ["api-builder", "old-builder", "web-builder"]
    assert page.locator("#build-host-filters select[name=owner]").count() == 0
    page.evaluate("window.dchwebMarker = 'no reload'")

    page.select_option("#build-host-filters select[name=state]", "removed")
    page.wait_for_selector(f"#build-host-{hosts['web'].pk}", state="detached")
    assert shown_hosts(page) == ["old-builder"]

    page.select_option("#build-host-filters select[name=state]", "")
    page.fill("#build-host-filters input[name=q]", "web")
    page.wait_for_selector(f"#build-host-{hosts['web'].pk}")
    page.wait_for_selector(f"#build-host-{hosts['api'].pk}", state="detached")
    assert shown_hosts(page) == ["web-builder"]
    assert page.evaluate("window.dchwebMarker") == "no reload"
    assert "q=web" in page.url  # a reload or a link keeps the search

    # By its short id, as the pages show it.
    page.fill("#build-host-filters input[name=q]", hosts["api"].short_id)
    page.wait_for_selector(f"#build-host-{hosts['api'].pk}")
    page.wait_for_selector(f"#build-host-{hosts['web'].pk}", state="detached")
    assert shown_hosts(page) == ["api-builder"]


def test_another_developer_s_hosts_never_show(live_server, page, hosts):
    sign_in(page, live_server, "alice", "alice-password-1")

    page.goto(f"{live_server.url}/build-hosts/?q=bobs")

    assert shown_hosts(page) == []
    assert (
        page.locator("#build-host-table")
        .inner_text()
        .startswith("No build host matches")
    )


def test_an_admin_filters_everyone_s_hosts_by_owner(live_server, page, admin, hosts):
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/build-hosts/")
    assert len(shown_hosts(page)) == 4

    page.select_option("#build-host-filters select[name=owner]", "bob")
    page.wait_for_selector(f"#build-host-{hosts['web'].pk}", state="detached")

    assert shown_hosts(page) == ["bobs-builder"]
    assert page.locator("#build-host-table td.owner").all_inner_texts() == ["bob"]


def test_two_hosts_of_the_same_name_are_told_apart_on_home(
    live_server, page, developer
):
    endpoint = world.unreachable_endpoint("local")
    first = make_host(
        developer, endpoint, "builder", created_at=timezone.now() - timedelta(hours=2)
    )
    second = make_host(developer, endpoint, "builder")
    sign_in(page, live_server, "alice", "alice-password-1")

    rows = page.locator("#my-build-hosts tbody tr")

    assert rows.count() == 2
    first_row = page.locator(f"#my-build-host-{first.pk}")
    second_row = page.locator(f"#my-build-host-{second.pk}")
    assert first.short_id in first_row.inner_text()
    assert second.short_id in second_row.inner_text()
    # Created at different times, each shown (in the viewer's zone).
    first_created = first_row.locator("td:last-child time").inner_text()
    second_created = second_row.locator("td:last-child time").inner_text()
    assert first_created and second_created and first_created != second_created


def test_the_list_and_home_fit_a_phone(live_server, page, admin, hosts):
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "root", "root-password-1")

    for path in ["/build-hosts/", "/build-hosts/?state=ready&owner=alice", "/"]:
        page.goto(f"{live_server.url}{path}")
        assert not scrolls_sideways(page), path
