"""dchweb's own CA through the API and the certificates page: shown, rotated
by admins only, and audited."""

import pytest

from hosts.core import pki
from hosts.models import AuditEvent, CertificateAuthority
from tests.support import world

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def bearer(user):
    token = world.api_token(user)
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_the_ca_is_created_on_first_use_and_then_kept(client, developer):
    first = client.get("/api/v1/certificate-authority", **bearer(developer)).json()
    second = client.get("/api/v1/certificate-authority", **bearer(developer)).json()

    assert first["fingerprint"] == second["fingerprint"]
    assert first["cert_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in str(first)
    assert CertificateAuthority.objects.count() == 1


def test_an_admin_rotates_the_ca_through_the_api(client, admin):
    old = client.get("/api/v1/certificate-authority", **bearer(admin)).json()

    response = client.post("/api/v1/certificate-authority/rotate", **bearer(admin))

    assert response.status_code == 201
    assert response.json()["fingerprint"] != old["fingerprint"]
    assert CertificateAuthority.objects.filter(active=True).count() == 1
    assert CertificateAuthority.objects.filter(active=False).count() == 1
    event = AuditEvent.objects.get(action="ca.rotated")
    assert event.details["previous"] == [old["fingerprint"]]
    assert event.source == "api"


def test_the_page_shows_the_ca_and_lets_only_admins_rotate_it(client, admin, developer):
    pki.load_or_create_ca(source="api")  # the API made it: now there is one to rotate
    client.force_login(developer)
    as_developer = client.get("/certificates/").content.decode()
    client.force_login(admin)
    before = client.get("/certificates/").content.decode()

    panel = client.post("/certificates/ca/rotate/", **HTMX).content.decode()

    new = CertificateAuthority.objects.get(active=True)
    assert "Rotate CA" not in as_developer
    assert "Rotate CA" in before
    assert new.fingerprint in panel
    assert 'id="ca-panel"' in panel
    assert AuditEvent.objects.get(action="ca.rotated").source == "ui"


def test_without_an_installation_ca_the_page_offers_no_rotation(client, admin):
    client.force_login(admin)

    page = client.get("/certificates/").content.decode()

    assert "Not created yet" not in page
    assert "Rotate CA" not in page
