"""HTML and script in every name and text a user or an engine can put in a
row are shown as text, in Chromium: no script runs (window.__xss stays
undefined), no element is injected, and the literal text is on the page.

Rows are made directly (as a hostile API client, engine or registry would
leave them): an endpoint, its last error, a registry, its last check error,
a build host, its failed step, a certificate, an audit event's details and
object, a build-host image, and a build's log (on /builds/<id>/, and through the
API as text/plain with nosniff: never rendered as HTML).
"""

import pytest
from django.urls import reverse
from django.utils import timezone

from hosts.builds import logs as buildlogs
from hosts.certificates import commands as certificates
from hosts.core import audit
from hosts.models import (
    AuditEvent,
    Build,
    BuildHost,
    BuildHostImage,
    BuildHostStep,
    Endpoint,
    Registry,
)
from tests.support import pki
from tests.support.browser import sign_in
from tests.support.world import api_token

pytestmark = [
    pytest.mark.badinput,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(120),
]

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
# Pages poll and swap fragments in: give a swap time to happen before looking.
SETTLE_MS = 1500


@pytest.fixture
def hostile_rows(admin):
    endpoint = Endpoint.objects.create(
        name=f"e{XSS}",
        docker_url="tcp://127.0.0.1:1",
        tls_mode=Endpoint.TlsMode.NONE,
        publish_host="127.0.0.1",
        health=Endpoint.Health.OFF,
        last_error=f"engine said {XSS}",
    )
    registry = Registry.objects.create(
        name=f"r{XSS}",
        address="127.0.0.1:1",
        last_check_at=timezone.now(),
        last_check_ok=False,
        last_check_reason="login_refused",
        last_check_error=f"registry said {XSS}",
    )
    host = BuildHost.objects.create(
        owner=admin,
        endpoint=endpoint,
        name=f"h{XSS}",
        image="registry.test:5443/p/i:1",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timezone.timedelta(hours=1),
    )
    failed = BuildHost.objects.create(
        owner=admin,
        endpoint=endpoint,
        name="failed",
        image="registry.test:5443/p/i:1",
        state=BuildHost.State.FAILED,
        error=f"host error {XSS}",
        error_reason="internal",
        expires_at=timezone.now() + timezone.timedelta(hours=1),
    )
    BuildHostStep.objects.create(
        build_host=failed,
        name="pull_image",
        status=BuildHostStep.Status.FAILED,
        error=f"step error {XSS}",
        finished_at=timezone.now(),
    )
    ca = pki.make_ca("escaping CA")
    certificates.create_certificate(
        admin, f"c{XSS}", ca.cert_pem.decode(), source=AuditEvent.Source.CLI
    )
    audit.record(
        admin,
        "badinput.test",
        host,
        {"note": f"details {XSS}"},
        source=AuditEvent.Source.CLI,
    )
    BuildHostImage.objects.create(
        ref=f"127.0.0.1:1/p/dch:{XSS}", base_image=XSS, created_by=admin
    )
    build = Build.objects.create(
        owner=admin,
        build_host=host,
        registry=registry,
        tags=["registry.test:5443/p/app:1"],
        state=Build.State.FAILED,
    )
    buildlogs.append(build.pk, f"Step 1/1 : RUN echo {XSS}\n{XSS}\n")
    return {"host": host, "failed": failed, "build": build}


def assert_shown_as_text(page, url, texts):
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_timeout(SETTLE_MS)
    assert page.evaluate("typeof window.__xss") == "undefined", url
    assert page.locator("img[src='x']").count() == 0, url
    # An engine's own message is folded under its summary: unfold them all.
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    for text in texts:
        shown = page.get_by_text(text).filter(visible=True)
        assert shown.count() >= 1, (url, text)


# Escaping is the templates' work, whatever the database: once per CI run.
@pytest.mark.once
def test_names_and_messages_are_text_on_every_page(
    page, live_server, admin, hostile_rows
):
    sign_in(page, live_server, "root", "root-password-1")
    host, failed = hostile_rows["host"], hostile_rows["failed"]
    pages = {
        reverse("home"): [f"h{XSS}", f"e{XSS}", f"engine said {XSS}"],
        reverse("endpoints"): [f"e{XSS}", f"engine said {XSS}"],
        reverse("registries"): [f"r{XSS}", f"registry said {XSS}"],
        reverse("certificates"): [f"c{XSS}"],
        reverse("audit"): [f"h{XSS}", f"details {XSS}", f"c{XSS}"],
        reverse("build_hosts"): [f"h{XSS}", f"e{XSS}"],
        reverse("build_host", args=[host.pk]): [f"h{XSS}", f"e{XSS}"],
        reverse("build_host", args=[failed.pk]): [
            f"host error {XSS}",
            f"step error {XSS}",
        ],
        reverse("build_host_images"): [f"127.0.0.1:1/p/dch:{XSS}"],
    }
    for path, texts in pages.items():
        assert_shown_as_text(page, f"{live_server.url}{path}", texts)


def test_a_build_log_is_text_on_its_page(page, live_server, admin, hostile_rows):
    build = hostile_rows["build"]
    path = reverse("build", args=[build.pk])
    sign_in(page, live_server, "root", "root-password-1")
    assert_shown_as_text(page, f"{live_server.url}{path}", [f"RUN echo {XSS}"])


def test_a_build_log_from_the_api_is_never_html(client, admin, hostile_rows):
    build = hostile_rows["build"]
    response = client.get(
        f"/api/v1/builds/{build.pk}/log",
        HTTP_AUTHORIZATION=f"Bearer {api_token(admin)}",
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert XSS.encode() in response.content
