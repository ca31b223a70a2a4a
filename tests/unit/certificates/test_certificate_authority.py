"""dchweb's own CA through the API and the certificates page: shown, rotated
by admins only, and audited."""

import pytest
from django.contrib.auth.models import Group

from hosts.accounts import commands as accounts
from hosts.core.permissions import ADMINS_GROUP, DEVELOPERS_GROUP
from hosts.models import AuditEvent, CertificateAuthority

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _user(django_user_model, name, group):
    accounts.ensure_groups()
    user = django_user_model.objects.create_user(name, password=f"{name}-password-1")
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def admin_user(django_user_model):
    return _user(django_user_model, "root", ADMINS_GROUP)


@pytest.fixture
def developer(django_user_model):
    return _user(django_user_model, "dev", DEVELOPERS_GROUP)


def bearer(user):
    _, token = accounts.create_api_token(user, "t", actor=None, source="cli")
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_the_ca_is_created_on_first_use_and_then_kept(client, developer):
    first = client.get("/api/v1/certificate-authority", **bearer(developer)).json()
    second = client.get("/api/v1/certificate-authority", **bearer(developer)).json()

    assert first["fingerprint"] == second["fingerprint"]
    assert first["cert_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "PRIVATE KEY" not in str(first)
    assert CertificateAuthority.objects.count() == 1


def test_an_admin_rotates_the_ca_through_the_api(client, admin_user):
    old = client.get("/api/v1/certificate-authority", **bearer(admin_user)).json()

    response = client.post("/api/v1/certificate-authority/rotate", **bearer(admin_user))

    assert response.status_code == 201
    assert response.json()["fingerprint"] != old["fingerprint"]
    assert CertificateAuthority.objects.filter(active=True).count() == 1
    assert CertificateAuthority.objects.filter(active=False).count() == 1
    event = AuditEvent.objects.get(action="ca.rotated")
    assert event.details["previous"] == [old["fingerprint"]]
    assert event.source == "api"


def test_the_page_shows_the_ca_and_lets_only_admins_rotate_it(
    client, admin_user, developer
):
    client.force_login(developer)
    as_developer = client.get("/certificates/").content.decode()
    client.force_login(admin_user)
    before = client.get("/certificates/").content.decode()

    panel = client.post("/certificates/ca/rotate/", **HTMX).content.decode()

    new = CertificateAuthority.objects.get(active=True)
    assert "Rotate CA" not in as_developer
    assert "Rotate CA" in before
    assert new.fingerprint in panel
    assert 'id="ca-panel"' in panel
    assert AuditEvent.objects.get(action="ca.rotated").source == "ui"
