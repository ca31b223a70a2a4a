"""seed_devstack: the devstack's admin, endpoint and registry as rows."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management.base import CommandError
from django.test import RequestFactory

from hosts.models import AuditEvent, Endpoint, Registry
from tests.support.commands import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def devstack_env(tmp_path, monkeypatch):
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIunit\n-----END CERTIFICATE-----\n")
    password = tmp_path / "registry-password"
    password.write_text("registry-secret-42\n")
    values = {
        "DCHWEB_DOCKER_URL": f"unix://{tmp_path}/docker.sock",
        "DCHWEB_DEVSTACK_NETWORK": "dchweb-unit",
        "DCHWEB_BUILD_HOST_IMAGE": "registry.test:5443/default-project/dch-photon:1",
        "DCHWEB_REGISTRY": "registry.test:5443",
        "DCHWEB_REGISTRY_CA": str(ca),
        "DCHWEB_REGISTRY_USER": "dchweb",
        "DCHWEB_REGISTRY_PASSWORD_FILE": str(password),
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DCHWEB_ADMIN_PASSWORD", raising=False)
    return {"ca": ca, "password": password, **values}


def sign_in_request():
    """authenticate() as the login page calls it: django-axes, the first
    backend, refuses a call without the request it throttles by."""
    return RequestFactory().post("/accounts/login/")


def test_seed_creates_admin_endpoint_and_registry(devstack_env):
    out, _ = run("seed_devstack")

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser
    assert admin.groups.filter(name="admins").exists()
    endpoint = Endpoint.objects.get(name="local")
    assert endpoint.docker_url == devstack_env["DCHWEB_DOCKER_URL"]
    assert endpoint.tls_mode == "none"
    assert endpoint.publish_host == "127.0.0.1"
    assert endpoint.network == "dchweb-unit"
    assert endpoint.default_image.endswith("dch-photon:1")
    registry = Registry.objects.get(address="registry.test:5443")
    assert registry.ca_pem == devstack_env["ca"].read_text()
    assert registry.username == "dchweb"
    assert registry.get_password() == "registry-secret-42"
    assert "registry-secret-42" not in registry.password_encrypted
    assert set(
        AuditEvent.objects.filter(source="cli").values_list("action", flat=True)
    ) == {"user.created", "endpoint.created", "registry.created"}
    assert "registry-secret-42" not in out


def test_seed_prints_a_generated_admin_password_once_and_it_works(devstack_env):
    first, _ = run("seed_devstack")
    password = first.split("admin login: admin / ")[1].split()[0]

    second, _ = run("seed_devstack")

    assert (
        authenticate(sign_in_request(), username="admin", password=password) is not None
    )
    assert "admin login: admin / " not in second
    assert "changepassword admin" in second
    assert password not in second


def test_seed_uses_the_admin_password_from_the_environment(devstack_env, monkeypatch):
    monkeypatch.setenv("DCHWEB_ADMIN_PASSWORD", "chosen-admin-password")

    out, _ = run("seed_devstack")

    assert authenticate(
        sign_in_request(), username="admin", password="chosen-admin-password"
    )
    assert "chosen-admin-password" not in out


def test_seed_is_idempotent(devstack_env):
    run("seed_devstack")
    events_after_first_run = AuditEvent.objects.count()

    out, _ = run("seed_devstack")

    assert "already up to date" in out
    assert Endpoint.objects.count() == 1
    assert Registry.objects.count() == 1
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert AuditEvent.objects.count() == events_after_first_run


def test_seed_follows_a_recreated_devstack(devstack_env):
    run("seed_devstack")
    devstack_env["ca"].write_text("-----BEGIN CERTIFICATE-----\nNEW\n")
    devstack_env["password"].write_text("new-registry-secret\n")

    out, _ = run("seed_devstack")

    registry = Registry.objects.get()
    assert "updated registry registry.test:5443" in out
    assert registry.ca_pem.endswith("NEW\n")
    assert registry.get_password() == "new-registry-secret"
    event = AuditEvent.objects.get(action="registry.updated")
    assert event.details == {"fields": ["ca_pem", "password"]}


def test_seed_without_the_devstack_says_what_is_missing(devstack_env, monkeypatch):
    monkeypatch.delenv("DCHWEB_DOCKER_URL")
    monkeypatch.delenv("DCHWEB_REGISTRY")

    with pytest.raises(CommandError) as error:
        run("seed_devstack")

    assert "DCHWEB_DOCKER_URL" in str(error.value)
    assert "DCHWEB_REGISTRY" in str(error.value)
    assert "devstack/up" in str(error.value)
    assert not Endpoint.objects.exists()


def test_seed_with_an_unreadable_ca_file_says_which(devstack_env):
    devstack_env["ca"].unlink()

    with pytest.raises(CommandError, match="DCHWEB_REGISTRY_CA"):
        run("seed_devstack")
