"""An admin checks the devstack registry from /registries/ in Chromium and
sees the result appear without a reload."""

import pytest

from hosts.registries import commands as registries

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


def test_admin_checks_the_devstack_registry_without_a_reload(
    live_server, page, admin, devstack
):
    registry = registries.create_registry(
        None,
        name="devstack",
        address=devstack["registry"],
        ca_pem=devstack["registry_ca"].decode(),
        username=devstack["registry_user"],
        password=devstack["registry_password"],
        source="cli",
    )

    page.goto(f"{live_server.url}/accounts/login/?next=/registries/")
    page.fill("input[name=username]", "root")
    page.fill("input[name=password]", "root-password-1")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/registries/")

    row = page.locator(f"#registry-{registry.pk}")
    assert "Not checked" in row.locator(".registry-check").text_content()
    # A full reload would drop this marker; an HTMX swap keeps it.
    page.evaluate("window.dchwebMarker = 'still here'")

    row.get_by_role("button", name="Check now").click()

    page.locator(f"#registry-{registry.pk} .registry-check .badge").wait_for()
    assert (
        page.locator(f"#registry-{registry.pk} .registry-check .badge")
        .text_content()
        .strip()
        == "OK"
    )
    assert page.evaluate("window.dchwebMarker") == "still here"
    registry.refresh_from_db()
    assert registry.last_check_ok is True
