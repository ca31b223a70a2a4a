"""The admin's whole path in Chromium: upload the engine's CA and a client
certificate, register a --tlsverify engine with them, and watch the probe's
result arrive without reloading the page."""

import pytest

from hosts.models import Certificate, Endpoint
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def upload_certificate(page, name, pem, key=""):
    page.click("text=Add a certificate")
    page.fill("#certificate-panel input[name=name]", name)
    page.fill("#certificate-panel textarea[name=pem]", pem)
    if key:
        page.fill("#certificate-panel textarea[name=private_key_pem]", key)
    page.click("button:has-text('Add certificate')")
    page.wait_for_selector(f"#certificate-panel table :text('{name}')")


def test_tls_endpoint_registered_through_the_pages_probes_on(
    live_server, page, admin, celery_worker, tls_engine, tls_world
):
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/certificates/")
    upload_certificate(page, "engine-ca", tls_world["ca"].cert_pem.decode())
    client = tls_world["client"]
    upload_certificate(
        page, "dchweb-client", client.cert_pem.decode(), client.key_pem.decode()
    )

    page.goto(f"{live_server.url}/endpoints/")
    page.evaluate("window.dchwebMarker = 'still here'")
    page.click("text=Register an endpoint")
    page.fill("input[name=name]", "tls-engine")
    page.fill("input[name=docker_url]", f"tcp://localhost:{tls_engine.port}")
    page.select_option("select[name=tls_mode]", "tlsverify")
    page.select_option("select[name=ca_certificate]", label="engine-ca")
    page.select_option("select[name=client_certificate]", label="dchweb-client")
    page.fill("input[name=publish_host]", "localhost")
    page.click("button:has-text('Register endpoint')")

    page.wait_for_selector("#endpoint-table tr:has-text('tls-engine')")
    endpoint = Endpoint.objects.get(name="tls-engine")
    page.wait_for_function(
        until(
            f"document.querySelector('#endpoint-{endpoint.pk} .badge')"
            "?.textContent.trim() == 'On'"
        ),
        timeout=30_000,
    )
    assert page.evaluate("window.dchwebMarker") == "still here"
    assert Certificate.objects.get(name="dchweb-client").has_private_key
    endpoint.refresh_from_db()
    assert endpoint.tls_mode == "tlsverify"
    assert endpoint.api_version == "1.41"
