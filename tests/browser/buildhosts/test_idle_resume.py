"""A build host stopped for idleness, on its page in Chromium: it says why it
stopped, and its Resume button starts it again; the page follows it to Ready
without a reload (the status polls while it resumes)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.buildhosts import idle
from hosts.models import BuildHost
from tests.support.browser import sign_in, until
from tests.support.hostcheck import new_host, wait_settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STATE = "document.querySelector('#build-host-status')?.dataset.state"


def test_a_host_stopped_for_idleness_is_resumed_from_its_page(
    live_server, page, celery_worker, endpoint, registry, developer, leftovers
):
    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    assert host.state == BuildHost.State.READY, host.error
    stopped = idle.stop_idle_hosts(now=timezone.now() + timedelta(minutes=61))
    assert stopped.get(idle.STOPPED) == [host.name], stopped
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/{host.pk}/")
    page.evaluate("window.dchwebNotReloaded = true")

    status = page.locator("#build-host-status")
    assert status.get_attribute("data-state") == "stopped"
    assert "Stopped after 60 minutes without activity" in status.inner_text()
    stop_row = status.locator("tr[data-step='stop']").inner_text()
    assert "Stop the container, keeping its volumes" in stop_row
    assert "no activity for 60 minutes" in stop_row

    status.get_by_role("button", name="Resume").click()

    page.wait_for_function(until(f"{STATE} == 'ready'"), timeout=120_000)
    assert page.evaluate("window.dchwebNotReloaded") is True
    status = page.locator("#build-host-status")
    assert status.get_by_role("button", name="Resume").count() == 0
    for name in ("resume_start", "resume_wait_ready"):
        assert (
            status.locator(f"tr[data-step='{name}']").get_attribute("data-status")
            == "done"
        )
    host.refresh_from_db()
    assert host.state == BuildHost.State.READY
