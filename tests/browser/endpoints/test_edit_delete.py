"""Admins edit an endpoint and delete endpoints, registries and
certificates from the pages, in Chromium: each delete asks first, and is
refused with the reason while something still uses what it would delete.
Developers get the 403 page. The pages fit a 390 px screen."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.certificates import commands as certificates
from hosts.endpoints import tasks as endpoint_tasks
from hosts.models import AuditEvent, BuildHost, Certificate, Endpoint, Registry
from tests.support import pki, world
from tests.support.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def probes(monkeypatch):
    """The probes an edit asks for, recorded instead of sent to a worker."""
    sent = []
    monkeypatch.setattr(endpoint_tasks.probe_endpoint, "delay", sent.append)
    return sent


@pytest.fixture
def signed_in_admin(live_server, page, admin):
    sign_in(page, live_server, "root", "root-password-1")
    return page


def scrolls_sideways(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )


def registry_named(name, ca_pem=""):
    return Registry.objects.create(
        name=name, address=f"{name}.test:5443", ca_pem=ca_pem
    )


def host_on(endpoint, owner, **values):
    return BuildHost.objects.create(
        owner=owner,
        endpoint=endpoint,
        name="bh-in-use",
        image="x",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timedelta(hours=8),
        **values,
    )


# --- Edit an endpoint ------------------------------------------------------------


def test_an_admin_edits_an_endpoint_and_it_is_probed_again(
    live_server, signed_in_admin, probes
):
    page = signed_in_admin
    endpoint = world.unreachable_endpoint("local", max_build_hosts=10)
    page.goto(f"{live_server.url}/endpoints/")

    page.click(f"#endpoint-{endpoint.pk} a.edit")
    page.wait_for_url(f"**/endpoints/{endpoint.pk}/edit/")
    assert page.input_value("input[name=name]") == "local"  # filled in
    page.fill("input[name=name]", "local-engine")
    page.fill("input[name=max_build_hosts]", "3")
    page.click("button:has-text('Save changes')")

    page.wait_for_url(f"{live_server.url}/endpoints/")
    assert "Endpoint “local-engine” saved." in page.locator("#messages").inner_text()
    assert "local-engine" in page.locator(f"#endpoint-{endpoint.pk}").inner_text()
    endpoint.refresh_from_db()
    assert (endpoint.name, endpoint.max_build_hosts) == ("local-engine", 3)
    assert probes == [endpoint.pk]
    assert AuditEvent.objects.filter(action="endpoint.update").count() == 1


def test_a_refused_edit_shows_the_reason_beside_the_field(
    live_server, signed_in_admin, probes
):
    page = signed_in_admin
    endpoint = world.unreachable_endpoint("local")
    page.goto(f"{live_server.url}/endpoints/{endpoint.pk}/edit/")

    page.fill("input[name=docker_url]", "tcp://no-port")
    page.click("button:has-text('Save changes')")

    page.wait_for_selector("form.endpoint-edit .error-text:has-text('port')")
    assert page.input_value("input[name=docker_url]") == "tcp://no-port"
    endpoint.refresh_from_db()
    assert endpoint.docker_url == "unix:///nonexistent/local.sock"
    assert probes == []


# --- Delete ------------------------------------------------------------------------


def test_an_endpoint_in_use_is_not_deleted_and_says_why(
    live_server, signed_in_admin, developer
):
    page = signed_in_admin
    endpoint = world.unreachable_endpoint("local")
    host_on(endpoint, developer)
    page.goto(f"{live_server.url}/endpoints/")

    page.click(f"#endpoint-{endpoint.pk} a.delete")

    page.wait_for_selector(".confirm-delete [role=alert]")
    text = page.locator(".confirm-delete").inner_text()
    assert "1 build host (1 active)" in text
    assert page.locator(".confirm-delete button").count() == 0
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()


def test_an_unused_endpoint_is_deleted_after_confirming(live_server, signed_in_admin):
    page = signed_in_admin
    endpoint = world.unreachable_endpoint("spare")
    page.goto(f"{live_server.url}/endpoints/")

    page.click(f"#endpoint-{endpoint.pk} a.delete")
    page.wait_for_selector(".confirm-delete h1:has-text('Delete endpoint “spare”?')")
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()  # asked, not yet done
    page.click("button:has-text('Delete endpoint “spare”')")

    page.wait_for_url(f"{live_server.url}/endpoints/")
    assert "Endpoint “spare” deleted." in page.locator("#messages").inner_text()
    assert page.locator(f"#endpoint-{endpoint.pk}").count() == 0
    assert not Endpoint.objects.filter(pk=endpoint.pk).exists()
    assert AuditEvent.objects.filter(action="endpoint.delete").count() == 1


def test_a_second_delete_lands_on_the_list(live_server, signed_in_admin):
    """A double click: the second POST finds nothing left and shows the list."""
    page = signed_in_admin
    endpoint = world.unreachable_endpoint("spare")
    page.goto(f"{live_server.url}/endpoints/{endpoint.pk}/delete/")
    Endpoint.objects.filter(pk=endpoint.pk).delete()  # the first click's work

    page.click("button:has-text('Delete endpoint')")

    page.wait_for_url(f"{live_server.url}/endpoints/")
    assert page.locator("h1").inner_text() == "Endpoints"


def test_a_registry_in_use_is_refused_and_an_unused_one_deleted(
    live_server, signed_in_admin, developer
):
    page = signed_in_admin
    endpoint = world.unreachable_endpoint("local")
    used = registry_named("used")
    host_on(endpoint, developer).registries.add(used)
    spare = registry_named("spare")
    page.goto(f"{live_server.url}/registries/")

    page.click(f"#registry-{used.pk} a.delete")
    page.wait_for_selector(".confirm-delete [role=alert]")
    assert "1 build host trusts it" in page.locator(".confirm-delete").inner_text()
    assert page.locator(".confirm-delete button").count() == 0

    page.goto(f"{live_server.url}/registries/")
    page.click(f"#registry-{spare.pk} a.delete")
    page.click("button:has-text('Delete registry “spare”')")
    page.wait_for_url(f"{live_server.url}/registries/")

    assert "Registry “spare” deleted." in page.locator("#messages").inner_text()
    assert set(Registry.objects.values_list("name", flat=True)) == {"used"}


def test_certificates_in_use_are_refused_and_an_unused_one_deleted(
    live_server, signed_in_admin, admin
):
    page = signed_in_admin
    endpoint_ca = pki.make_ca("Endpoint CA")
    registry_ca = pki.make_ca("Registry CA")
    spare_ca = pki.make_ca("Spare CA")
    for_endpoint = certificates.create_certificate(
        admin, "for-endpoint", endpoint_ca.cert_pem.decode(), source="cli"
    )
    for_registry = certificates.create_certificate(
        admin, "for-registry", registry_ca.cert_pem.decode(), source="cli"
    )
    spare = certificates.create_certificate(
        admin, "spare", spare_ca.cert_pem.decode(), source="cli"
    )
    world.unreachable_endpoint(
        "tls-engine",
        docker_url="tcp://engine.test:2376",
        tls_mode=Endpoint.TlsMode.TLSVERIFY,
        ca_certificate=for_endpoint,
    )
    registry_named("private", ca_pem=registry_ca.cert_pem.decode())
    page.goto(f"{live_server.url}/certificates/")

    page.goto(f"{live_server.url}/certificates/{for_endpoint.pk}/delete/")
    assert "endpoint tls-engine" in page.locator(".confirm-delete").inner_text()
    page.goto(f"{live_server.url}/certificates/{for_registry.pk}/delete/")
    assert "registry private" in page.locator(".confirm-delete").inner_text()
    assert page.locator(".confirm-delete button").count() == 0

    page.goto(f"{live_server.url}/certificates/")
    page.click(f"a.delete[href$='/certificates/{spare.pk}/delete/']")
    page.click("button:has-text('Delete certificate “spare”')")
    page.wait_for_url(f"{live_server.url}/certificates/")

    assert "Certificate “spare” deleted." in page.locator("#messages").inner_text()
    assert set(Certificate.objects.values_list("name", flat=True)) == {
        "for-endpoint",
        "for-registry",
    }


def test_a_refusal_found_only_at_the_delete_is_shown_on_the_page(
    live_server, signed_in_admin, developer
):
    """In use since the page was opened: the use case refuses, the page says why."""
    page = signed_in_admin
    endpoint = world.unreachable_endpoint("local")
    page.goto(f"{live_server.url}/endpoints/{endpoint.pk}/delete/")
    host_on(endpoint, developer)

    page.click("button:has-text('Delete endpoint')")

    page.wait_for_selector(".confirm-delete [role=alert]:has-text('Not deleted')")
    assert "1 build host (1 active)" in page.locator(".confirm-delete").inner_text()
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()


# --- Who may --------------------------------------------------------------------------


def test_developers_get_the_403_page_and_no_buttons(live_server, page, developer):
    endpoint = world.unreachable_endpoint("local")
    registry = registry_named("private")
    sign_in(page, live_server, "alice", "alice-password-1")

    page.goto(f"{live_server.url}/endpoints/")
    assert page.locator("a.edit, a.delete").count() == 0
    for path in [
        f"/endpoints/{endpoint.pk}/edit/",
        f"/endpoints/{endpoint.pk}/delete/",
        f"/registries/{registry.pk}/delete/",
    ]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 403, path
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()
    assert Registry.objects.filter(pk=registry.pk).exists()


def test_the_edit_and_delete_pages_fit_a_phone(live_server, signed_in_admin, developer):
    page = signed_in_admin
    page.set_viewport_size(PHONE)
    endpoint = world.unreachable_endpoint("local")
    host_on(endpoint, developer)
    spare = world.unreachable_endpoint("spare")

    for path in [
        f"/endpoints/{endpoint.pk}/edit/",
        f"/endpoints/{endpoint.pk}/delete/",
        f"/endpoints/{spare.pk}/delete/",
    ]:
        page.goto(f"{live_server.url}{path}")
        assert not scrolls_sideways(page), path
