"""Times in the viewer's own time zone, the zone named, and an expiry as
"in 7 h 55 min" with the time itself on hover (static/js/times.js), in
Chromium set to a zone other than the server's (UTC): on the page as
loaded, and on the pieces htmx swaps in later."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from hosts.models import BuildHost
from tests.support import world
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ZONE = "America/New_York"


@pytest.fixture
def page(browser):
    """A page in New York, in US English, whatever the machine's zone."""
    context = browser.new_context(timezone_id=ZONE, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def as_seen_in_new_york(moment, seconds=False):
    """The text the page should show: the zone's time and its short name
    (US zones have names of their own: EST, EDT)."""
    local = moment.astimezone(ZoneInfo(ZONE))
    clock = "%H:%M:%S" if seconds else "%H:%M"
    return local.strftime(f"%Y-%m-%d {clock} %Z")


def make_host(owner, endpoint, name, **values):
    values.setdefault("expires_at", timezone.now() + timedelta(hours=8))
    values.setdefault("state", BuildHost.State.READY)
    return BuildHost.objects.create(
        owner=owner, endpoint=endpoint, name=name, image="x", **values
    )


def time_of(page, selector):
    element = page.locator(selector)
    return element.inner_text().strip(), element.get_attribute("title")


def test_times_show_in_the_viewer_s_zone_and_expiry_relative(
    live_server, page, developer
):
    endpoint = world.unreachable_endpoint("local")
    created = timezone.now().replace(microsecond=0) - timedelta(hours=3)
    expires = timezone.now() + timedelta(hours=7, minutes=55, seconds=30)
    host = make_host(
        developer, endpoint, "bh-times", created_at=created, expires_at=expires
    )
    sign_in(page, live_server, "alice", "alice-password-1")

    page.goto(f"{live_server.url}/build-hosts/{host.pk}/")

    created_cell = "table.facts time[data-localized]"  # the one time there
    page.wait_for_selector(created_cell)
    text, _ = time_of(page, created_cell)
    assert text == as_seen_in_new_york(created, seconds=True)
    assert text.endswith(("EST", "EDT"))  # the zone is named
    expiry_text, expiry_title = time_of(page, "#build-host-status .expiry time")
    assert expiry_text == "in 7 h 55 min"
    assert expiry_title == as_seen_in_new_york(expires)


def test_times_swapped_in_by_htmx_are_shown_in_the_viewer_s_zone(
    live_server, page, developer
):
    endpoint = world.unreachable_endpoint("local")
    created = timezone.now().replace(microsecond=0) - timedelta(minutes=30)
    # Still being provisioned: the list polls itself every 2 s.
    host = make_host(
        developer,
        endpoint,
        "bh-polled",
        created_at=created,
        state=BuildHost.State.PROVISIONING,
    )
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/")
    page.evaluate("document.querySelector('#build-host-table').dataset.first = 'yes'")

    # The table as the next poll brought it (the marked element is gone).
    page.wait_for_function(
        until("!document.querySelector('#build-host-table').dataset.first")
    )
    cell = f"#build-host-{host.pk} td:last-child time[data-localized]"
    page.wait_for_selector(cell)

    text, title = time_of(page, cell)
    assert text == as_seen_in_new_york(created)
    assert title == as_seen_in_new_york(created, seconds=True)
    assert time_of(page, f"#build-host-{host.pk} .expiry time")[0].startswith("in 7 h")


def test_without_script_a_time_says_it_is_utc(client, developer):
    """The server's own text, before (or without) the script: UTC, named."""
    endpoint = world.unreachable_endpoint("local")
    created = timezone.now().replace(microsecond=0)
    make_host(developer, endpoint, "bh-utc", created_at=created)
    client.force_login(developer)

    page = client.get("/build-hosts/").content.decode()

    assert f">{created:%Y-%m-%d %H:%M} UTC</time>" in page
