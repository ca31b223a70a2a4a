"""HTMX fragments update a page in Chromium without a reload."""

import pytest
from django.utils import timezone

from hosts.models import Endpoint
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_endpoint_health_on_home_updates_without_a_reload(live_server, page, developer):
    endpoint = Endpoint.objects.create(
        name="alpha",
        docker_url="unix:///nowhere.sock",
        health=Endpoint.Health.OFF,
        last_probe_at=timezone.now(),  # probed, and found off
    )
    # The page's own timers, so that its 10-second poll can be brought forward.
    page.clock.install()
    sign_in(page, live_server, "alice", "alice-password-1")
    health = page.locator("#endpoint-health .badge")
    assert health.text_content().strip() == "Off"
    # A full reload would drop this marker; an HTMX swap keeps it.
    page.evaluate("window.dchwebMarker = 'still here'")

    endpoint.health = Endpoint.Health.ON
    endpoint.save(update_fields=["health"])
    # As if the page had been left open: the poll that is due fires, once.
    page.clock.fast_forward(10_000)

    page.wait_for_function(
        until(
            "document.querySelector('#endpoint-health .badge')"
            ".textContent.trim() == 'On'"
        ),
        timeout=25_000,
    )
    assert page.evaluate("window.dchwebMarker") == "still here"
