"""An admin checks the devstack registry from /registries/ in Chromium and
sees the result appear without a reload."""

import pytest

from tests.support import world
from tests.support.browser import until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def test_admin_checks_the_devstack_registry_without_a_reload(
    live_server, page, admin, devstack
):
    # A row as seeding leaves it: no check queued (create_registry queues
    # one, which a worker of the session could do before the click).
    registry = world.devstack_registry(devstack)

    page.goto(f"{live_server.url}/accounts/login/?next=/registries/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "root-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/registries/")

    row = page.locator(f"#registry-{registry.pk}")
    # Its first check is queued (no worker here): neutral, never "failed".
    assert "Checking…" in row.locator(".registry-check").text_content()
    # A full reload would drop this marker; an HTMX swap keeps it.
    page.evaluate("window.dchwebMarker = 'still here'")

    row.get_by_role("button", name="Check now").click()

    page.wait_for_function(
        until(
            f"document.querySelector('#registry-{registry.pk} .registry-check .badge')"
            "?.textContent.trim() == 'OK'"
        )
    )
    assert page.evaluate("window.dchwebMarker") == "still here"
    registry.refresh_from_db()
    assert registry.last_check_ok is True
