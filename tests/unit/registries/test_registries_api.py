"""Registries through the API and the page: validation, who may do what,
passwords encrypted at rest and never returned; checks with narrow stubs."""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import connection
from django.utils import timezone

from hosts.lib import registry_check
from hosts.models import AuditEvent, Registry
from hosts.registries import commands as registries

pytestmark = pytest.mark.django_db

URL = "/api/v1/registries"
HTMX = {"HTTP_HX_REQUEST": "true"}
SECRET = "s3cret-Registry-pass"


def make_ca_pem(days=365, common_name="registry CA"):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = timezone.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def post(client, path, data, token):
    return client.post(
        path,
        data,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def valid(**overrides):
    data = {
        "name": "harbor",
        "address": "harbor.example.com:5443",
        "project": "team-a",
        "ca_pem": make_ca_pem(),
        "username": "robot",
        "password": SECRET,
    }
    data.update(overrides)
    return data


def assert_400(response, *needles):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid_registry"
    for needle in needles:
        assert needle in body["detail"]
    assert not Registry.objects.exists()
    assert not AuditEvent.objects.filter(action="registry.created").exists()


# --- Create -------------------------------------------------------------------


def test_admin_creates_a_registry_without_the_password_coming_back(
    client, admin_token, admin
):
    response = post(client, URL, valid(), admin_token)

    assert response.status_code == 201, response.content
    body = response.json()
    assert SECRET not in response.content.decode()
    assert "password" not in body and "password_encrypted" not in body
    assert body["has_password"] is True
    assert body["has_ca"] is True
    assert body["ca_expiry_warning"] is None
    assert body["last_check_ok"] is None
    assert (body["address"], body["project"]) == ("harbor.example.com:5443", "team-a")

    registry = Registry.objects.get()
    assert registry.get_password() == SECRET
    event = AuditEvent.objects.get(action="registry.created")
    assert event.actor == admin and event.source == "api"
    assert SECRET not in str(event.details)


def test_the_raw_row_holds_no_clear_password(client, admin_token):
    post(client, URL, valid(), admin_token)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM hosts_registry")
        rows = cursor.fetchall()
    assert rows and SECRET not in repr(rows)


def test_list_and_detail_never_include_passwords(
    client, api_get, admin_token, developer_token
):
    created = post(client, URL, valid(), admin_token).json()
    for path in (URL, f"{URL}/{created['id']}"):
        response = api_get(path, token=developer_token)
        assert response.status_code == 200
        assert SECRET not in response.content.decode()
        assert "password_encrypted" not in response.content.decode()
    assert api_get(f"{URL}/999", token=developer_token).status_code == 404


def test_project_defaults_and_login_is_optional(client, admin_token):
    response = post(
        client,
        URL,
        {"name": "open", "address": "Registry.Local"},
        admin_token,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["address"] == "registry.local"
    assert body["project"] == "default-project"
    assert (body["has_password"], body["has_ca"]) == (False, False)


@pytest.mark.parametrize(
    ("address", "needle"),
    [
        ("https://harbor.example.com", "without a scheme"),
        ("harbor.example.com/team-a", "without a path"),
        ("harbor example.com", "is not a host[:port] address"),
        ("harbor.example.com:99999", "port 99999"),
        ("", "address is required"),
    ],
)
def test_bad_addresses_are_400_with_a_reason(client, admin_token, address, needle):
    assert_400(post(client, URL, valid(address=address), admin_token), needle)


def test_a_bad_project_name_is_400(client, admin_token):
    assert_400(
        post(client, URL, valid(project="Team A"), admin_token), "not a project name"
    )


def test_bad_ca_pem_is_400(client, admin_token):
    assert_400(
        post(client, URL, valid(ca_pem="hello"), admin_token),
        "CA certificate:",
        "not PEM",
    )


def test_an_expired_ca_is_400(client, admin_token):
    # Valid from yesterday for a negative span would be refused by the
    # builder; expired means not_after in the past.
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old CA")])
    now = timezone.now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=10))
        .not_valid_after(now - datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    assert_400(post(client, URL, valid(ca_pem=pem), admin_token), "has expired")


def test_a_password_without_a_username_is_400(client, admin_token):
    assert_400(post(client, URL, valid(username=""), admin_token), "without a username")


def test_a_missing_name_is_400(client, admin_token):
    response = post(client, URL, valid(name="  "), admin_token)
    assert_400(response, "name is required")


def test_duplicate_name_or_address_is_409(client, admin_token):
    assert post(client, URL, valid(), admin_token).status_code == 201
    same_name = post(client, URL, valid(address="other.example.com"), admin_token)
    same_address = post(client, URL, valid(name="other"), admin_token)
    for response in (same_name, same_address):
        assert response.status_code == 409
        assert response.json()["error"] == "conflict"
    assert Registry.objects.count() == 1


def test_developers_get_403_on_create_and_check(client, admin_token, developer_token):
    created = post(client, URL, valid(), admin_token).json()
    assert post(client, URL, valid(name="x"), developer_token).status_code == 403
    response = post(client, f"{URL}/{created['id']}/check", {}, developer_token)
    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"


# --- Update -------------------------------------------------------------------


def test_update_keeps_the_password_unless_given_and_audits_field_names(admin):
    registry = registries.create_registry(admin, source="cli", **valid(ca_pem=None))
    registries.update_registry(admin, registry, project="team-b", source="cli")
    registry.refresh_from_db()
    assert registry.get_password() == SECRET
    registries.update_registry(admin, registry, password="new-pass", source="cli")
    registry.refresh_from_db()
    assert registry.get_password() == "new-pass"
    fields = [
        event.details["fields"]
        for event in AuditEvent.objects.filter(action="registry.updated")
    ]
    assert fields == [["password"], ["project"]]
    with pytest.raises(registries.RegistryInvalid, match="without a scheme"):
        registries.update_registry(admin, registry, address="http://x", source="cli")


# --- Check (the network part is stubbed narrowly; the real one is in
#     tests/integration/registries/test_registry_check.py) ----------------------


def test_check_api_returns_and_stores_the_result(client, admin_token, monkeypatch):
    created = post(client, URL, valid(), admin_token).json()
    seen = {}

    def fake_check(address, ca_pem, username, password, timeout):
        seen.update(address=address, username=username, password=password)
        return registry_check.result("login_refused")

    monkeypatch.setattr(registry_check, "check_registry", fake_check)
    response = post(client, f"{URL}/{created['id']}/check", {}, admin_token)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["ok"], body["reason"]) == (False, "login_refused")
    assert "login refused" in body["message"]
    assert body["registry"]["last_check_reason"] == "login_refused"
    assert SECRET not in response.content.decode()
    assert seen == {
        "address": "harbor.example.com:5443",
        "username": "robot",
        "password": SECRET,
    }
    assert AuditEvent.objects.filter(action="registry.check_changed").count() == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
            "unknown_authority",
        ),
        ("Hostname mismatch, certificate is not valid for 'x'", "hostname_mismatch"),
        ("[SSL: WRONG_VERSION_NUMBER] wrong version number", "tls_not_served"),
        ("[Errno 111] Connection refused", "connection_refused"),
        ("[Errno -2] Name or service not known", "unknown_host"),
        ("something odd", "failed"),
    ],
)
def test_error_text_is_classified(text, reason):
    import requests

    result = registry_check.classify(requests.ConnectionError(text))
    assert (result.ok, result.reason) == (False, reason)
    assert result.message


def test_a_timeout_is_classified():
    import requests

    assert registry_check.classify(requests.ReadTimeout("x")).reason == "timeout"


def test_bearer_challenges_are_parsed():
    scheme, params = registry_check.parse_challenge(
        'Bearer realm="https://auth.example.com/token",service="harbor-registry"'
    )
    assert scheme == "bearer"
    assert params == {
        "realm": "https://auth.example.com/token",
        "service": "harbor-registry",
    }


def test_ca_expiry_warning_is_in_the_api(client, api_get, admin_token):
    post(client, URL, valid(ca_pem=make_ca_pem(days=5)), admin_token)
    body = api_get(URL, token=admin_token).json()[0]
    assert body["ca_expiry_warning"] == "7d"
    assert body["ca_expires_at"]


# --- Page -----------------------------------------------------------------------


def test_page_lists_for_developers_without_form_or_buttons(client, developer):
    registries.create_registry(None, source="cli", **valid())
    client.force_login(developer)
    response = client.get("/registries/")
    content = response.content.decode()
    assert response.status_code == 200
    assert "harbor.example.com:5443" in content
    assert "Add a registry" not in content and "Check now" not in content
    assert SECRET not in content
    assert client.post("/registries/", valid()).status_code == 403
    registry = Registry.objects.get()
    assert client.post(f"/registries/{registry.pk}/check").status_code == 403
    assert client.post("/registries/trust/").status_code == 403


def test_page_create_with_errors_inline_and_nothing_saved(client, admin):
    client.force_login(admin)
    response = client.post(
        "/registries/", valid(address="https://harbor.example.com"), **HTMX
    )
    assert response.status_code == 400
    content = response.content.decode()
    assert "without a scheme" in content
    assert 'id="registry-panel"' in content
    assert not Registry.objects.exists()

    response = client.post("/registries/", valid(), **HTMX)
    assert response.status_code == 200
    assert "harbor.example.com:5443" in response.content.decode()
    assert SECRET not in response.content.decode()
    assert Registry.objects.get().get_password() == SECRET


def test_page_check_now_answers_with_the_row(client, admin, monkeypatch):
    registry = registries.create_registry(None, source="cli", **valid())
    monkeypatch.setattr(
        registry_check,
        "check_registry",
        lambda *args, **kwargs: registry_check.result("unknown_authority"),
    )
    client.force_login(admin)
    response = client.post(f"/registries/{registry.pk}/check", **HTMX)
    assert response.status_code == 200
    content = response.content.decode()
    assert content.strip().startswith(f'<tr id="registry-{registry.pk}"')
    assert "CA not trusted" in content  # the reason in words, not its code
    assert client.post("/registries/999/check", **HTMX).status_code == 404


def test_trust_matrix_shows_each_endpoint_and_registry(client, developer):
    from hosts.models import Endpoint, RegistryTrust

    good = registries.create_registry(None, source="cli", **valid())
    other = registries.create_registry(
        None,
        source="cli",
        **valid(name="b", address="b.test", ca_pem=make_ca_pem(days=3)),
    )
    endpoint = Endpoint.objects.create(name="vch1", docker_url="tcp://v:2376")
    RegistryTrust.objects.create(endpoint=endpoint, registry=good, ok=True, reason="ok")
    RegistryTrust.objects.create(
        endpoint=endpoint,
        registry=other,
        reason="unknown_authority",
        message="deploy the VCH with --registry-ca",
    )
    client.force_login(developer)
    for path in ("/registries/trust/", "/registries/"):
        content = client.get(path).content.decode()
        assert 'id="registry-trust"' in content
        assert "vch1" in content and "can pull" in content
        assert "unknown_authority" in content and "--registry-ca" in content
        assert "CA expires in 2 d" in content
        assert "Recheck" not in content


def test_recheck_queues_the_task_and_polls(client, admin, monkeypatch):
    from hosts.registries import tasks

    queued = []
    monkeypatch.setattr(tasks.check_registry_trust, "delay", lambda: queued.append(1))
    client.force_login(admin)
    response = client.post("/registries/trust/", **HTMX)
    assert response.status_code == 200
    assert queued == [1]
    assert 'hx-trigger="every 2s"' in response.content.decode()


def test_recheck_with_the_queue_down_says_so_not_500(client, admin, monkeypatch):
    from kombu.exceptions import OperationalError

    from hosts.registries import tasks

    def down():
        raise OperationalError("Connection refused")

    monkeypatch.setattr(tasks.check_registry_trust, "delay", down)
    client.force_login(admin)
    response = client.post("/registries/trust/", **HTMX)
    assert response.status_code == 200
    assert "task queue does not answer" in response.content.decode()


class FakeResponse:
    def __init__(self, status, headers=None, body=None):
        self.status_code = status
        self.headers = headers or {}
        self._body = body

    def json(self):
        if self._body is None:
            raise ValueError("not JSON")
        return self._body


@pytest.mark.parametrize(
    ("token_status", "final_status", "reason"),
    [(200, 200, "ok"), (401, None, "login_refused"), (200, 401, "login_refused")],
)
def test_bearer_login_fetches_a_token_from_the_realm(
    monkeypatch, token_status, final_status, reason
):
    """The Distribution token flow (Harbor, ...): the devstack registry speaks
    Basic, so this one flow is exercised with a stubbed session."""
    import requests

    calls = []
    challenge = {
        "WWW-Authenticate": 'Bearer realm="https://auth.test/service/token",'
        'service="harbor-registry"',
        "Docker-Distribution-Api-Version": "registry/2.0",
    }

    def fake_get(self, url, **kwargs):
        calls.append((url, kwargs.get("params"), kwargs.get("auth"), kwargs))
        if url == "https://auth.test/service/token":
            return FakeResponse(token_status, body={"token": "t0ken"})
        if "Authorization" in (kwargs.get("headers") or {}):
            return FakeResponse(final_status, dict(challenge), {})
        return FakeResponse(401, dict(challenge), {})

    monkeypatch.setattr(requests.Session, "get", fake_get)
    result = registry_check.check_registry("harbor.test", "", "robot", "pw")

    assert result.reason == reason
    token_call = calls[1]
    assert token_call[1] == {"service": "harbor-registry"}
    assert token_call[2] == ("robot", "pw")
    if final_status:
        assert calls[2][3]["headers"] == {"Authorization": "Bearer t0ken"}
