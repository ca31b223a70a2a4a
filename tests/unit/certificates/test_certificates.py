"""Certificates: parsing uploads, storing them safely, the API and the page,
and dchweb's own CA. Every certificate here is real, made with `cryptography`."""

import datetime
import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from hosts.api import api
from hosts.certificates import commands as certificates
from hosts.core import pki
from hosts.lib import x509 as x509_lib
from hosts.models import AuditEvent, Certificate, CertificateAuthority, Endpoint

HTMX = {"HTTP_HX_REQUEST": "true"}
DAY = datetime.timedelta(days=1)


# --- Making real certificates -------------------------------------------------


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def make_cert(
    common_name,
    *,
    key=None,
    issuer=None,
    sans=(),
    ips=(),
    usage=None,
    is_ca=False,
    not_before=None,
    not_after=None,
):
    """(certificate, key); self-signed unless `issuer` is a (cert, key) pair."""
    key = key or new_key()
    now = timezone.now()
    not_after = not_after or now + 365 * DAY
    not_before = not_before or min(now, not_after) - 30 * DAY
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    issuer_cert, issuer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject if issuer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), True)
    )
    names = [x509.DNSName(name) for name in sans]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), False)
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), False)
    return builder.sign(issuer_key, hashes.SHA256()), key


def cert_pem(*certs):
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certs)


def key_pem(key, password=None):
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()


def openssl_style_fingerprint(cert):
    """What `openssl x509 -noout -fingerprint -sha256` prints after the `=`."""
    return ":".join(f"{byte:02X}" for byte in cert.fingerprint(hashes.SHA256()))


@pytest.fixture(scope="module")
def ca():
    return make_cert("Test Root CA", is_ca=True)


@pytest.fixture(scope="module")
def server(ca):
    return make_cert(
        "build.test",
        issuer=ca,
        sans=["build.test", "*.build.test"],
        ips=["127.0.0.1"],
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
    )


# --- Parsing ------------------------------------------------------------------


def test_a_good_server_certificate_is_parsed(server, ca):
    cert, key = server

    parsed = x509_lib.parse_certificate_bundle(cert_pem(cert, ca[0]), key_pem(key))

    assert parsed.subject == "CN=build.test"
    assert parsed.issuer == "CN=Test Root CA"
    assert parsed.sans == ["DNS:build.test", "DNS:*.build.test", "IP:127.0.0.1"]
    assert parsed.fingerprint == openssl_style_fingerprint(cert)
    assert len(parsed.fingerprint) == 95
    assert parsed.not_before == cert.not_valid_before_utc
    assert parsed.not_after == cert.not_valid_after_utc
    assert (parsed.kind, parsed.is_ca, parsed.chain_length) == ("server", False, 2)
    assert "PRIVATE KEY" not in parsed.pem
    assert parsed.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")


def test_a_ca_and_a_client_certificate_are_told_apart(ca):
    client, _ = make_cert("alice", issuer=ca, usage=ExtendedKeyUsageOID.CLIENT_AUTH)

    assert x509_lib.parse_certificate_bundle(cert_pem(ca[0])).kind == "ca"
    assert x509_lib.parse_certificate_bundle(cert_pem(ca[0])).is_ca is True
    assert x509_lib.parse_certificate_bundle(cert_pem(client)).kind == "client"


def test_a_key_inside_the_bundle_is_taken(server):
    cert, key = server

    parsed = x509_lib.parse_certificate_bundle(cert_pem(cert) + key_pem(key))

    assert parsed.private_key_pem is not None
    assert parsed.chain_length == 1


def _rejections():
    ca_cert, ca_key = make_cert("Reject CA", is_ca=True)
    now = timezone.now()
    good, good_key = make_cert("good.test", sans=["good.test"])
    expired, _ = make_cert("old.test", not_before=now - 400 * DAY, not_after=now - DAY)
    future, _ = make_cert("new.test", not_before=now + DAY, not_after=now + 400 * DAY)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csr")]))
        .sign(ca_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    lines = cert_pem(good).splitlines()
    damaged = "\n".join([lines[0], *lines[3:]]) + "\n"  # two lines lost
    return {
        "not PEM": ("just some text", None, "is not PEM"),
        "not a certificate": (csr, None, "holds no certificate"),
        "only a key": (key_pem(good_key), None, "holds no certificate"),
        "damaged": (damaged, None, "not a readable X.509 certificate"),
        "expired": (cert_pem(expired), None, "has expired"),
        "not yet valid": (cert_pem(future), None, "is not valid yet"),
        "key does not match": (
            cert_pem(good),
            key_pem(new_key()),
            "private key does not match the certificate",
        ),
        "encrypted key": (
            cert_pem(good),
            key_pem(good_key, password=b"secret"),
            "encrypted with a passphrase",
        ),
        "key not PEM": (cert_pem(good), "not a key at all", "private key is not PEM"),
        "oversize certificate": (
            cert_pem(good) + "#" * x509_lib.MAX_INPUT_BYTES,
            None,
            "the limit is 64 KiB",
        ),
        "oversize key": (
            cert_pem(good),
            key_pem(good_key) + "#" * x509_lib.MAX_INPUT_BYTES,
            "the limit is 64 KiB",
        ),
        "chain certificate expired": (
            cert_pem(
                good,
                make_cert(
                    "Old CA",
                    is_ca=True,
                    not_before=now - 400 * DAY,
                    not_after=now - DAY,
                )[0],
            ),
            None,
            "chain certificate CN=Old CA has expired",
        ),
        "CA certificate key mismatch": (cert_pem(ca_cert), key_pem(good_key), "match"),
    }


REJECTIONS = _rejections()


@pytest.mark.parametrize("case", REJECTIONS)
def test_bad_input_is_rejected_with_a_clear_message(case):
    pem, key, message = REJECTIONS[case]

    with pytest.raises(x509_lib.CertificateInvalid) as raised:
        x509_lib.parse_certificate_bundle(pem, key)

    assert message in raised.value.message


@pytest.mark.parametrize(
    ("left", "warning"),
    [
        (datetime.timedelta(days=90), None),
        (datetime.timedelta(days=30, seconds=1), None),
        (datetime.timedelta(days=30), "30d"),
        (datetime.timedelta(days=8), "30d"),
        (datetime.timedelta(days=7), "7d"),
        (datetime.timedelta(days=2), "7d"),
        (datetime.timedelta(days=1), "1d"),
        (datetime.timedelta(hours=1), "1d"),
        (datetime.timedelta(0), "expired"),
        (-DAY, "expired"),
    ],
)
def test_expiry_warnings(left, warning):
    now = timezone.now()

    assert x509_lib.expiry_warning(now + left, now) == warning


# --- Storing ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_private_key_is_stored_encrypted(server, admin):
    cert, key = server
    clear_key = key_pem(key)

    stored = certificates.create_certificate(
        admin, "build", cert_pem(cert), clear_key, source="cli"
    )

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pem, private_key_encrypted FROM hosts_certificate WHERE id = %s",
            [stored.pk],
        )
        pem_column, key_column = cursor.fetchone()
    body = "".join(clear_key.splitlines()[1:-1])
    assert "PRIVATE KEY" not in pem_column + key_column
    assert body[:40] not in key_column
    assert Certificate.objects.get().get_private_key() == clear_key
    event = AuditEvent.objects.get(action="certificate.create")
    assert event.actor == admin
    assert event.details["fingerprint"] == openssl_style_fingerprint(cert)
    assert "PRIVATE" not in str(event.details)


@pytest.mark.django_db
def test_a_rejected_upload_saves_nothing(admin):
    expired, _ = make_cert("old.test", not_after=timezone.now() - DAY)

    with pytest.raises(x509_lib.CertificateInvalid):
        certificates.create_certificate(admin, "old", cert_pem(expired), source="cli")

    assert not Certificate.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="certificate.").exists()


@pytest.mark.django_db
def test_delete_is_audited(server, admin):
    stored = certificates.create_certificate(
        admin, "build", cert_pem(server[0]), source="cli"
    )

    certificates.delete_certificate(admin, stored, source="cli")

    assert not Certificate.objects.exists()
    assert AuditEvent.objects.filter(action="certificate.delete").count() == 1


@pytest.mark.django_db
def test_a_certificate_in_use_is_not_deleted(server, admin):
    stored = certificates.create_certificate(
        admin, "build", cert_pem(server[0]), source="cli"
    )
    Endpoint.objects.create(
        name="alpha", docker_url="tcp://a:2376", publish_host="a", ca_certificate=stored
    )

    with pytest.raises(certificates.CertificateInUse, match="in use by endpoint alpha"):
        certificates.delete_certificate(admin, stored, source="cli")

    assert Certificate.objects.filter(pk=stored.pk).exists()
    assert not AuditEvent.objects.filter(action="certificate.delete").exists()


# --- API ----------------------------------------------------------------------


def post_json(client, path, data, token):
    return client.post(
        path,
        data,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.mark.django_db
def test_api_admin_uploads_and_anyone_lists(client, api_get, server, admin_token):
    cert, key = server

    created = post_json(
        client,
        "/api/v1/certificates",
        {"name": "build", "pem": cert_pem(cert), "private_key_pem": key_pem(key)},
        admin_token,
    )

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["has_private_key"] is True
    assert body["sans"] == ["DNS:build.test", "DNS:*.build.test", "IP:127.0.0.1"]
    assert body["fingerprint"] == openssl_style_fingerprint(cert)
    assert body["created_by"] == "root"
    assert "PRIVATE KEY" not in created.content.decode()
    assert not any("key_pem" in field or "encrypted" in field for field in body)


@pytest.mark.django_db
def test_api_list_has_expiry_and_no_keys(api_get, developer_token, admin):
    soon, key = make_cert("soon.test", not_after=timezone.now() + 20 * DAY)
    certificates.create_certificate(
        admin, "soon", cert_pem(soon), key_pem(key), source="cli"
    )

    response = api_get("/api/v1/certificates", token=developer_token)

    assert response.status_code == 200
    [item] = response.json()
    assert item["name"] == "soon"
    assert item["expiry_warning"] == "30d"
    assert item["expires_in_days"] == 19
    assert item["has_private_key"] is True
    assert "PRIVATE KEY" not in response.content.decode()


@pytest.mark.django_db
def test_api_bad_certificate_is_400_and_nothing_saved(client, admin_token):
    expired, _ = make_cert("old.test", not_after=timezone.now() - DAY)

    response = post_json(
        client,
        "/api/v1/certificates",
        {"name": "old", "pem": cert_pem(expired)},
        admin_token,
    )

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_certificate"
    assert "has expired" in body["detail"]
    assert not Certificate.objects.exists()


@pytest.mark.django_db
def test_api_mismatched_key_is_400(client, admin_token, server):
    response = post_json(
        client,
        "/api/v1/certificates",
        {
            "name": "x",
            "pem": cert_pem(server[0]),
            "private_key_pem": key_pem(new_key()),
        },
        admin_token,
    )

    assert response.status_code == 400
    assert "does not match" in response.json()["detail"]


@pytest.mark.django_db
def test_api_duplicate_name_is_409(client, admin_token, server):
    data = {"name": "build", "pem": cert_pem(server[0])}
    assert (
        post_json(client, "/api/v1/certificates", data, admin_token).status_code == 201
    )

    response = post_json(client, "/api/v1/certificates", data, admin_token)

    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert Certificate.objects.count() == 1


@pytest.mark.django_db
def test_api_developer_may_not_upload(client, developer_token, server):
    response = post_json(
        client,
        "/api/v1/certificates",
        {"name": "build", "pem": cert_pem(server[0])},
        developer_token,
    )

    assert response.status_code == 403
    assert response.json()["error"] == "forbidden"
    assert not Certificate.objects.exists()


@pytest.mark.django_db
def test_api_without_token_is_401(client):
    assert client.get("/api/v1/certificates").status_code == 401


def test_openapi_schema_documents_certificates():
    schema = api.get_openapi_schema()

    operations = schema["paths"]["/api/v1/certificates"]
    assert set(operations) == {"get", "post"}
    assert {201, 400, 403, 409} <= set(operations["post"]["responses"])
    out = schema["components"]["schemas"]["CertificateOut"]["properties"]
    assert "has_private_key" in out
    assert not any("key_pem" in name for name in out)


# --- Page ---------------------------------------------------------------------


@pytest.mark.django_db
def test_page_needs_login(client):
    response = client.get("/certificates/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/certificates/"


@pytest.mark.django_db
def test_developer_sees_the_table_but_no_form(client, developer, admin, server):
    certificates.create_certificate(admin, "build", cert_pem(server[0]), source="cli")
    client.force_login(developer)

    page = client.get("/certificates/").content.decode()

    assert "<html" in page
    assert 'href="/certificates/"' in page
    assert "DNS:build.test" in page
    assert openssl_style_fingerprint(server[0]) in page
    assert "Add certificate" not in page


@pytest.mark.django_db
def test_htmx_request_gets_the_fragment(client, developer):
    client.force_login(developer)

    fragment = client.get("/certificates/", **HTMX).content.decode()

    assert "<html" not in fragment
    assert 'id="certificate-panel"' in fragment


@pytest.mark.django_db
def test_developer_cannot_upload_from_the_page(client, developer, server):
    client.force_login(developer)

    response = client.post(
        "/certificates/", {"name": "x", "pem": cert_pem(server[0])}, **HTMX
    )

    assert response.status_code == 403
    assert not Certificate.objects.exists()


@pytest.mark.django_db
def test_admin_uploads_with_htmx(client, admin, server):
    cert, key = server
    client.force_login(admin)

    response = client.post(
        "/certificates/",
        {"name": "build", "pem": cert_pem(cert), "private_key_pem": key_pem(key)},
        **HTMX,
    )

    assert response.status_code == 200
    fragment = response.content.decode()
    assert "<html" not in fragment
    assert "DNS:build.test" in fragment
    assert "stored" in fragment
    assert Certificate.objects.get().has_private_key
    assert AuditEvent.objects.get(action="certificate.create").source == "ui"


@pytest.mark.django_db
def test_a_bad_upload_shows_the_reason_in_the_form(client, admin, server):
    client.force_login(admin)

    response = client.post(
        "/certificates/",
        {
            "name": "build",
            "pem": cert_pem(server[0]),
            "private_key_pem": key_pem(new_key()),
        },
        **HTMX,
    )

    assert response.status_code == 400
    fragment = response.content.decode()
    assert "<html" not in fragment
    assert "does not match the certificate" in fragment
    assert 'role="alert"' in fragment
    assert not Certificate.objects.exists()


@pytest.mark.django_db
def test_a_plain_form_post_redirects_after_success(client, admin, server):
    client.force_login(admin)

    response = client.post(
        "/certificates/", {"name": "build", "pem": cert_pem(server[0])}
    )

    assert response.status_code == 302
    assert response["Location"] == "/certificates/"


@pytest.mark.django_db
def test_a_plain_form_post_with_bad_pem_is_a_400_page(client, admin):
    client.force_login(admin)

    response = client.post("/certificates/", {"name": "x", "pem": "hello"})

    assert response.status_code == 400
    assert "is not PEM" in response.content.decode()
    assert "<html" in response.content.decode()


# --- dchweb's own CA ----------------------------------------------------------


def _load(pem):
    return x509.load_pem_x509_certificate(pem.encode())


@pytest.mark.django_db
def test_the_ca_is_created_once_and_its_key_encrypted():
    first = pki.load_or_create_ca()
    again = pki.load_or_create_ca()

    assert first.pk == again.pk
    assert CertificateAuthority.objects.count() == 1
    assert AuditEvent.objects.filter(action="ca.created").count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT key_encrypted FROM hosts_certificateauthority")
        (key_column,) = cursor.fetchone()
    assert "PRIVATE KEY" not in key_column
    assert "PRIVATE KEY" in first.get_private_key()
    assert (
        _load(first.cert_pem)
        .extensions.get_extension_for_class(x509.BasicConstraints)
        .value.ca
    )


@pytest.mark.django_db
def test_a_process_that_loses_the_race_uses_the_winners_ca(monkeypatch):
    make_material = x509_lib.new_ca_material
    winner = {}

    def the_other_process_wins(now):
        # Between our "is there one?" and our insert, another process adds one.
        winner["ca"] = pki._store_ca(*make_material(now))
        return make_material(now)

    monkeypatch.setattr(pki, "new_ca_material", the_other_process_wins)

    ca = pki.load_or_create_ca()

    assert ca.pk == winner["ca"].pk
    assert CertificateAuthority.objects.filter(active=True).count() == 1


@pytest.mark.django_db
def test_only_one_ca_can_be_active():
    pki.load_or_create_ca()
    with pytest.raises(IntegrityError), transaction.atomic():
        CertificateAuthority.objects.create(cert_pem="x", key_encrypted="y")


@pytest.mark.django_db
def test_an_issued_server_certificate_verifies_against_the_ca():
    ca = pki.load_or_create_ca()
    ca_cert = _load(ca.cert_pem)

    cert_text, key_text = x509_lib.issue_server_certificate(
        "build-1", ["build-1.test"], ["127.0.0.1"], days=30, ca=ca
    )
    cert = _load(cert_text)

    # The signature, checked by hand with the CA's public key...
    ca_cert.public_key().verify(
        cert.signature,
        cert.tbs_certificate_bytes,
        ec.ECDSA(cert.signature_hash_algorithm),
    )
    # ...and a full path validation for each name, as a TLS client does.
    verifier_for = (
        PolicyBuilder()
        .store(Store([ca_cert]))
        .time(timezone.now())
        .build_server_verifier
    )
    verifier_for(x509.DNSName("build-1.test")).verify(cert, [])
    verifier_for(x509.IPAddress(ipaddress.ip_address("127.0.0.1"))).verify(cert, [])
    with pytest.raises(x509.verification.VerificationError):
        verifier_for(x509.DNSName("other.test")).verify(cert, [])

    parsed = x509_lib.parse_certificate_bundle(cert_text, key_text)
    assert parsed.sans == ["DNS:build-1.test", "IP:127.0.0.1"]
    assert parsed.kind == "server"
    assert parsed.issuer == ca_cert.subject.rfc4514_string()
    assert 29 <= (parsed.not_after - timezone.now()).days <= 30


@pytest.mark.django_db
def test_an_issued_client_certificate_is_for_client_auth():
    ca = pki.load_or_create_ca()
    ca_cert = _load(ca.cert_pem)

    cert_text, key_text = x509_lib.issue_client_certificate("alice", days=10, ca=ca)
    cert = _load(cert_text)

    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.subject.rfc4514_string() == "CN=alice"
    cert.verify_directly_issued_by(ca_cert)
    assert x509_lib.parse_certificate_bundle(cert_text, key_text).kind == "client"


@pytest.mark.django_db
def test_rotate_makes_a_new_active_ca_and_keeps_the_old(admin):
    old = pki.load_or_create_ca()

    new = pki.rotate_ca(admin, source="cli")

    old.refresh_from_db()
    assert new.pk != old.pk
    assert new.active and not old.active
    assert old.retired_at is not None
    assert pki.load_or_create_ca().pk == new.pk
    event = AuditEvent.objects.get(action="ca.rotated")
    assert event.actor == admin
    assert event.details["previous"] == [old.fingerprint]
    issued = _load(
        x509_lib.issue_client_certificate("bob", ca=pki.load_or_create_ca())[0]
    )
    assert issued.issuer == _load(new.cert_pem).subject


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["not PEM", "expired", "key does not match"])
def test_each_rejection_is_a_400_in_the_api_and_a_form_error_in_the_page(
    client, admin_token, admin, case
):
    pem, key, message = REJECTIONS[case]
    body = {"name": "rejected", "pem": pem} | ({"private_key_pem": key} if key else {})

    api = post_json(client, "/api/v1/certificates", body, admin_token)
    client.force_login(admin)
    page = client.post("/certificates/", body, **HTMX)

    assert api.status_code == 400
    assert message in api.json()["detail"]
    assert page.status_code == 400
    assert message in page.content.decode()
    assert not Certificate.objects.exists()
