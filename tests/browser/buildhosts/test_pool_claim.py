"""A build host from the page, on an endpoint with a ready pool host: the
developer's host page shows it ready at once, claimed from the pool."""

import time

import pytest

from hosts.buildhosts import pool, tasks
from hosts.models import BuildHost, Endpoint
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TIMEOUT_SECONDS = 120


def ready_pool_host(endpoint, leaving=None) -> BuildHost:
    """The endpoint's one free pool host, once it is ready (not `leaving`)."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        free = pool.free_hosts(endpoint).exclude(pk=getattr(leaving, "pk", None))
        host = free.filter(state=BuildHost.State.READY).first()
        if host is not None:
            return host
        assert not free.filter(state=BuildHost.State.FAILED).exists()
        time.sleep(0.1)
    pytest.fail("the pool host never got ready")


def test_a_developer_gets_a_pool_host_ready_at_once(
    live_server, page, celery_worker, endpoint, registry, developer, leftovers
):
    Endpoint.objects.filter(pk=endpoint.pk).update(pool_size=1)
    tasks.refill_pool.delay(endpoint.pk)
    waiting = ready_pool_host(endpoint)
    sign_in(page, live_server, "alice", "alice-password-1")

    page.click("nav >> text=Build hosts")
    page.click("text=New build host")
    page.select_option("select[name=endpoint]", str(endpoint.pk))
    page.fill("input[name=name]", "from-the-pool")
    page.click("button:has-text('Create build host')")

    page.wait_for_url(f"{live_server.url}/build-hosts/{waiting.pk}/")
    page.wait_for_function(
        until("document.querySelector('#build-host-status')?.dataset.state == 'ready'")
    )
    assert page.get_by_text("Claimed from the pool", exact=False).first.is_visible()
    timeline = page.locator("#build-host-status").inner_text()
    assert "claimed from the pool" in timeline.lower()
    claimed = BuildHost.objects.get(pk=waiting.pk)
    assert (claimed.owner, claimed.name) == (developer, "from-the-pool")
    # The pool refills behind it (and no worker is left making one).
    ready_pool_host(endpoint, leaving=waiting)
