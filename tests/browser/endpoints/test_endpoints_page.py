"""The endpoints page in Chromium: register, probe now, see the health change
without a reload; a POST without the CSRF token is refused."""

import pytest

from hosts.models import AuditEvent, Endpoint
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def badge_is(endpoint_id, text):
    return (
        f"document.querySelector('#endpoint-{endpoint_id} .badge')"
        f"?.textContent.trim() == '{text}'"
    )


def test_probe_now_turns_the_badge_on_without_a_reload(
    live_server, page, admin, celery_worker, devstack
):
    endpoint = Endpoint.objects.create(
        name="devstack",
        docker_url=devstack["docker_url"],
        tls_mode=Endpoint.TlsMode.NONE,
        publish_host="127.0.0.1",
    )
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/endpoints/")
    row = page.locator(f"#endpoint-{endpoint.pk}")
    # Never probed: "Checking…", not "Off" (see test_first_state.py).
    assert row.locator(".badge").first.text_content().strip() == "Checking…"
    # A full reload would drop this marker; an HTMX swap keeps it.
    page.evaluate("window.dchwebMarker = 'still here'")

    row.get_by_role("button", name="Probe now").click()

    page.wait_for_function(until(badge_is(endpoint.pk, "On")), timeout=30_000)
    assert page.evaluate("window.dchwebMarker") == "still here"
    endpoint.refresh_from_db()
    assert endpoint.api_version == "1.41"
    assert AuditEvent.objects.filter(action="endpoint.probe_requested").exists()


def test_an_endpoint_registered_in_the_form_probes_on_without_a_reload(
    live_server, page, admin, celery_worker, devstack
):
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/endpoints/")
    page.evaluate("window.dchwebMarker = 'still here'")

    page.click("text=Register an endpoint")
    page.fill("input[name=name]", "from-the-form")
    page.fill("input[name=docker_url]", devstack["docker_url"])
    page.select_option("select[name=tls_mode]", "none")
    page.fill("input[name=publish_host]", "127.0.0.1")
    page.click("button:has-text('Register endpoint')")

    page.wait_for_selector("#endpoint-table tr:has-text('from-the-form')")
    endpoint = Endpoint.objects.get(name="from-the-form")
    page.wait_for_function(until(badge_is(endpoint.pk, "On")), timeout=30_000)
    assert page.evaluate("window.dchwebMarker") == "still here"


def test_a_bad_url_in_the_form_is_shown_inline(live_server, page, admin):
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/endpoints/")

    page.click("text=Register an endpoint")
    page.fill("input[name=name]", "broken")
    page.fill("input[name=docker_url]", "tcp://no-port")
    page.select_option("select[name=tls_mode]", "none")
    page.fill("input[name=publish_host]", "127.0.0.1")
    page.click("button:has-text('Register endpoint')")

    page.wait_for_selector("#endpoint-create .error-text:has-text('port')")
    assert not Endpoint.objects.filter(name="broken").exists()


def test_a_post_without_the_csrf_header_is_refused(live_server, page, admin):
    endpoint = Endpoint.objects.create(
        name="local", docker_url="unix:///nowhere.sock", tls_mode="none"
    )
    sign_in(page, live_server, "root", "root-password-1")

    # Signed in (the session cookie goes along) but without X-CSRFToken.
    response = page.request.post(f"{live_server.url}/endpoints/{endpoint.pk}/probe/")

    assert response.status == 403
    assert not AuditEvent.objects.filter(action="endpoint.probe_requested").exists()
