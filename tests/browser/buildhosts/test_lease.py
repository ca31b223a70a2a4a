"""A heartbeat lease on a build host's page, in Chromium: the lease counts
down live; when its holder stops and the periodic pass finds it lapsed, the
page shows the host removed and why, without a reload."""

from datetime import timedelta

import pytest

from hosts.models import BuildHost
from hosts.ops import tasks as ops_tasks
from tests.support.browser import sign_in, until
from tests.support.hostcheck import new_host, wait_settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LEASE_LINE = "document.querySelector('#build-host-status .host-lease')"


def test_a_lease_lapsing_shows_on_the_hosts_page_without_a_reload(
    live_server, page, celery_worker, endpoint, registry, developer, leftovers
):
    host = wait_settled(
        new_host(developer, endpoint, registry_ids=[registry.pk], lease_seconds=60)
    )
    assert host.state == BuildHost.State.READY, host.error
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/{host.pk}/")
    page.evaluate("window.dchwebNotReloaded = true")

    # The lease counts down while the page is open: its words change.
    first = page.locator("#build-host-status .host-lease").inner_text()
    assert first.startswith("Lease: renewed ") and ", lapses in " in first
    page.wait_for_function(
        until(f"{LEASE_LINE} && {LEASE_LINE}.innerText != {first!r}"),
        timeout=10_000,
    )

    # Its holder is gone: the pass after the lease removes it.
    host.refresh_from_db()
    lapsed_at = host.lease_expires_at + timedelta(seconds=1)
    assert ops_tasks.reap_lapsed_leases(now=lapsed_at) == 1

    page.wait_for_function(
        until(
            "document.querySelector('#build-host-status')?.dataset.state == 'removed'"
        ),
        timeout=60_000,
    )
    status = page.locator("#build-host-status")
    assert status.locator(".host-state").inner_text().startswith("Removed")
    lapse = status.locator("tr[data-step='lease_lapsed']")
    assert "Its lease lapsed" in lapse.inner_text()
    assert "its lease lapsed: no heartbeat since" in lapse.inner_text()
    assert status.locator(".host-lease").count() == 0
    assert page.evaluate("window.dchwebNotReloaded") is True
