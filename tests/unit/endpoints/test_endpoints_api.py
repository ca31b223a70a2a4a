"""Endpoints: registering them (API and page), checking their settings,
disabling and enabling, and the probe enqueued once the change commits.

The probe itself runs against real engines in
tests/integration/endpoints/test_endpoint_registration.py; here only the enqueue is
stubbed (`probe_endpoint.delay`), to see *when* it happens.
"""

import json
from unittest import mock

import pytest
from django.test import Client

from hosts.api import api
from hosts.certificates import commands as certificates
from hosts.endpoints import commands as endpoints
from hosts.endpoints import probes
from hosts.models import AuditEvent, Endpoint
from tests.support import pki

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
DELAY = "hosts.endpoints.tasks.probe_endpoint.delay"


@pytest.fixture
def api_post(client):
    def post(path, body=None, token=None):
        extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
        return client.post(
            path,
            data=json.dumps(body or {}),
            content_type="application/json",
            **extra,
        )

    return post


@pytest.fixture
def tls_certs(admin):
    ca = pki.make_ca("engine CA")
    client_pair = ca.issue_client("dchweb")
    return {
        "ca": certificates.create_certificate(
            admin, "engine-ca", ca.cert_pem.decode(), source="cli"
        ),
        "client": certificates.create_certificate(
            admin,
            "engine-client",
            client_pair.cert_pem.decode(),
            client_pair.key_pem.decode(),
            source="cli",
        ),
        "client_without_key": certificates.create_certificate(
            admin, "keyless-client", client_pair.cert_pem.decode(), source="cli"
        ),
        "client_key_pem": client_pair.key_pem.decode(),
    }


def local_body(**overrides):
    return {
        "name": "local",
        "docker_url": "unix:///var/run/docker.sock",
        "tls_mode": "none",
        "publish_host": "127.0.0.1",
    } | overrides


def tls_body(certs, **overrides):
    return {
        "name": "vch-1",
        "docker_url": "tcp://vch.example.test:2376",
        "tls_mode": "tlsverify",
        "ca_certificate_id": certs["ca"].pk,
        "client_certificate_id": certs["client"].pk,
        "publish_host": "vch.example.test",
    } | overrides


def assert_error(response, status, code, *words):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    for word in words:
        assert word in body["detail"]
    return body


# --- Create -------------------------------------------------------------------


def test_an_admin_registers_a_local_endpoint(api_post, admin_token):
    response = api_post("/api/v1/endpoints", local_body(), admin_token)

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "local"
    assert body["health"] == "off"
    assert body["volume_store"] == "default"
    assert body["max_build_hosts"] == 10
    for field in (
        "last_error",
        "last_error_reason",
        "last_probe_at",
        "flavor",
        "api_version",
        "server_version",
        "os_arch",
        "volume_stores",
    ):
        assert field in body
    event = AuditEvent.objects.get(action="endpoint.create")
    assert event.actor_name == "root"
    assert event.source == "api"
    assert event.object_id == str(body["id"])


def test_a_tls_endpoint_output_has_no_secret(api_post, admin_token, tls_certs):
    response = api_post("/api/v1/endpoints", tls_body(tls_certs), admin_token)

    assert response.status_code == 201
    text = response.content.decode()
    assert "PRIVATE KEY" not in text
    assert "BEGIN CERTIFICATE" not in text
    assert tls_certs["client_key_pem"].splitlines()[1] not in text
    body = response.json()
    assert body["ca_certificate_id"] == tls_certs["ca"].pk
    assert body["client_certificate_id"] == tls_certs["client"].pk


def test_list_and_detail_have_no_secret(api_get, developer_token, tls_certs):
    endpoint = endpoints.create_endpoint(
        None,
        tls_body(tls_certs),
        source="cli",
    )

    for path in ("/api/v1/endpoints", f"/api/v1/endpoints/{endpoint.pk}"):
        response = api_get(path, token=developer_token)
        assert response.status_code == 200
        assert "PRIVATE KEY" not in response.content.decode()
        assert "BEGIN CERTIFICATE" not in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"docker_url": "http://engine:2375"}, ["unix://", "tcp://"]),
        ({"docker_url": "tcp://engine"}, ["port"]),
        ({"docker_url": "tcp://engine:99999"}, ["port"]),
        ({"docker_url": "tcp://:2376"}, ["host"]),
        ({"docker_url": "tcp://engine:2376/path"}, ["host and a port"]),
        ({"docker_url": "unix://relative.sock"}, ["absolute"]),
        ({"docker_url": "  "}, ["required"]),
        ({"name": "  "}, ["name"]),
        ({"publish_host": " "}, ["a publish host is required for a unix socket"]),
        ({"tls_mode": "tls"}, ["tcp://"]),
    ],
)
def test_bad_settings_are_400_and_nothing_is_saved(
    api_post, admin_token, overrides, words
):
    response = api_post("/api/v1/endpoints", local_body(**overrides), admin_token)

    assert_error(response, 400, "invalid_endpoint", *words)
    assert not Endpoint.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="endpoint.").exists()


def test_tlsverify_needs_a_ca_certificate(api_post, admin_token, tls_certs):
    body = tls_body(tls_certs, ca_certificate_id=None)

    response = api_post("/api/v1/endpoints", body, admin_token)

    assert_error(response, 400, "invalid_endpoint", "tlsverify", "CA certificate")
    assert not Endpoint.objects.exists()


def test_tls_without_verification_needs_no_ca(api_post, admin_token, tls_certs):
    body = tls_body(tls_certs, ca_certificate_id=None, tls_mode="tls")

    assert api_post("/api/v1/endpoints", body, admin_token).status_code == 201


def test_a_client_certificate_needs_its_private_key(api_post, admin_token, tls_certs):
    body = tls_body(tls_certs, client_certificate_id=tls_certs["client_without_key"].pk)

    response = api_post("/api/v1/endpoints", body, admin_token)

    assert_error(response, 400, "invalid_endpoint", "keyless-client", "private key")
    assert not Endpoint.objects.exists()


def test_certificates_without_tls_are_refused(api_post, admin_token, tls_certs):
    body = tls_body(tls_certs, tls_mode="none")

    assert_error(
        api_post("/api/v1/endpoints", body, admin_token),
        400,
        "invalid_endpoint",
        "only with TLS",
    )


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tls_mode": "sometimes"}, "tls_mode"),
        ({"max_build_hosts": 0}, "max_build_hosts"),
        ({"docker_url": None}, "docker_url"),
    ],
)
def test_schema_errors_are_400_naming_the_field(
    api_post, admin_token, overrides, field
):
    response = api_post("/api/v1/endpoints", local_body(**overrides), admin_token)

    assert_error(response, 400, "bad_request", field)


def test_an_unknown_certificate_is_404(api_post, admin_token, tls_certs):
    body = tls_body(tls_certs, ca_certificate_id=999999)

    assert_error(
        api_post("/api/v1/endpoints", body, admin_token), 404, "not_found", "999999"
    )
    assert not Endpoint.objects.exists()


def test_a_duplicate_name_is_409(api_post, admin_token):
    assert api_post("/api/v1/endpoints", local_body(), admin_token).status_code == 201

    response = api_post(
        "/api/v1/endpoints", local_body(docker_url="unix:///other.sock"), admin_token
    )

    assert_error(response, 409, "conflict", "local")
    assert Endpoint.objects.count() == 1


# --- Permissions --------------------------------------------------------------


@pytest.fixture
def local_endpoint():
    return Endpoint.objects.create(
        name="local",
        docker_url="unix:///var/run/docker.sock",
        tls_mode="none",
        publish_host="127.0.0.1",
    )


def test_a_developer_may_not_register(api_post, developer_token):
    response = api_post("/api/v1/endpoints", local_body(), developer_token)

    assert_error(response, 403, "forbidden")
    assert not Endpoint.objects.exists()


@pytest.mark.parametrize("action", ["probe", "disable", "enable"])
def test_a_developer_may_not_act_on_an_endpoint(
    api_post, developer_token, local_endpoint, action
):
    with mock.patch(DELAY) as delay:
        response = api_post(
            f"/api/v1/endpoints/{local_endpoint.pk}/{action}", token=developer_token
        )

    assert_error(response, 403, "forbidden")
    delay.assert_not_called()
    assert not AuditEvent.objects.filter(action__startswith="endpoint.").exists()


def test_a_developer_reads_an_endpoint(api_get, developer_token, local_endpoint):
    response = api_get(f"/api/v1/endpoints/{local_endpoint.pk}", token=developer_token)

    assert response.status_code == 200
    assert response.json()["name"] == "local"


def test_an_unknown_endpoint_is_404(api_get, api_post, admin_token):
    assert_error(api_get("/api/v1/endpoints/4242", token=admin_token), 404, "not_found")
    assert_error(
        api_post("/api/v1/endpoints/4242/probe", token=admin_token), 404, "not_found"
    )


# --- Probe on commit, disable, enable -----------------------------------------


def test_the_probe_is_enqueued_only_once_the_create_commits(
    api_post, admin_token, django_capture_on_commit_callbacks
):
    with (
        mock.patch(DELAY) as delay,
        django_capture_on_commit_callbacks(execute=False) as callbacks,
    ):
        response = api_post("/api/v1/endpoints", local_body(), admin_token)
    delay.assert_not_called()
    assert len(callbacks) == 1

    with mock.patch(DELAY) as delay:
        callbacks[0]()

    delay.assert_called_once_with(response.json()["id"])


def test_a_broker_that_is_down_does_not_undo_the_create(
    api_post, admin_token, django_capture_on_commit_callbacks
):
    with (
        mock.patch(DELAY, side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_post("/api/v1/endpoints", local_body(), admin_token)

    assert response.status_code == 201
    assert Endpoint.objects.filter(name="local").exists()


def test_probe_now_is_202_and_enqueued_on_commit(
    api_post, admin_token, local_endpoint, django_capture_on_commit_callbacks
):
    with (
        mock.patch(DELAY) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = api_post(
            f"/api/v1/endpoints/{local_endpoint.pk}/probe", token=admin_token
        )

    assert response.status_code == 202
    delay.assert_called_once_with(local_endpoint.pk)
    assert AuditEvent.objects.filter(action="endpoint.probe_requested").count() == 1


def test_disable_stays_disabled_and_enable_probes_again(
    api_post, admin_token, local_endpoint, django_capture_on_commit_callbacks
):
    url = f"/api/v1/endpoints/{local_endpoint.pk}"
    with (
        mock.patch(DELAY) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        disabled = api_post(f"{url}/disable", token=admin_token)
        probe = api_post(f"{url}/probe", token=admin_token)
        after_probe = probes.probe_endpoint(local_endpoint.pk)
        delay.assert_not_called()
        enabled = api_post(f"{url}/enable", token=admin_token)

    assert disabled.status_code == 200
    assert disabled.json()["health"] == "disabled"
    assert_error(probe, 409, "conflict", "disabled")
    assert after_probe.health == "disabled"
    assert after_probe.last_probe_at is None
    assert enabled.status_code == 200
    assert enabled.json()["health"] == "off"
    delay.assert_called_once_with(local_endpoint.pk)
    actions = list(
        AuditEvent.objects.filter(action__startswith="endpoint.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["endpoint.disable", "endpoint.enable"]


def test_update_checks_again_and_probes_again(
    admin, local_endpoint, django_capture_on_commit_callbacks
):
    with pytest.raises(endpoints.EndpointInvalid):
        endpoints.update_endpoint(
            admin, local_endpoint, local_body(docker_url="ftp://x"), source="cli"
        )
    with (
        mock.patch(DELAY) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        endpoints.update_endpoint(
            admin,
            local_endpoint,
            local_body(docker_url="tcp://engine.test:2375"),
            source="cli",
        )

    local_endpoint.refresh_from_db()
    assert local_endpoint.docker_url == "tcp://engine.test:2375"
    delay.assert_called_once_with(local_endpoint.pk)
    event = AuditEvent.objects.get(action="endpoint.update")
    assert event.details["changed"] == {"docker_url": "tcp://engine.test:2375"}


def test_put_changes_an_endpoint_and_probes_it_again(
    client,
    admin_token,
    developer_token,
    local_endpoint,
    django_capture_on_commit_callbacks,
):
    url = f"/api/v1/endpoints/{local_endpoint.pk}"

    def put(body, token):
        return client.put(
            url,
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    assert_error(put(local_body(), developer_token), 403, "forbidden")
    assert_error(
        put(local_body(docker_url="tcp://x"), admin_token), 400, "invalid_endpoint"
    )
    with (
        mock.patch(DELAY) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = put(local_body(max_build_hosts=3), admin_token)

    assert response.status_code == 200
    assert response.json()["max_build_hosts"] == 3
    delay.assert_called_once_with(local_endpoint.pk)


def test_openapi_documents_the_endpoint_operations():
    schema = api.get_openapi_schema()

    paths = schema["paths"]
    assert set(paths["/api/v1/endpoints"]) == {"get", "post"}
    assert {201, 400, 403, 404, 409} <= set(
        paths["/api/v1/endpoints"]["post"]["responses"]
    )
    assert "202" in {
        str(code)
        for code in paths["/api/v1/endpoints/{endpoint_id}/probe"]["post"]["responses"]
    }
    for action in ("disable", "enable"):
        assert f"/api/v1/endpoints/{{endpoint_id}}/{action}" in paths
    out = schema["components"]["schemas"]["EndpointOut"]["properties"]
    assert "last_error_reason" in out
    assert not any("key" in name or "pem" in name for name in out)


# --- Page ---------------------------------------------------------------------


def test_an_admin_sees_the_form_and_the_buttons(client, admin, tls_certs):
    Endpoint.objects.create(name="local", docker_url="unix:///x.sock", publish_host="h")
    client.force_login(admin)

    page = client.get("/endpoints/").content.decode()

    assert "Register endpoint" in page
    assert "Probe now" in page
    assert "Disable" in page
    assert "engine-ca" in page  # the CA is offered in the form


def test_a_developer_sees_the_list_without_buttons_or_secrets(
    client, developer, tls_certs
):
    endpoints.create_endpoint(None, tls_body(tls_certs), source="cli")
    client.force_login(developer)

    page = client.get("/endpoints/").content.decode()

    assert "vch-1" in page
    assert "Register endpoint" not in page
    assert "Probe now" not in page
    assert "PRIVATE KEY" not in page
    assert tls_certs["client_key_pem"].splitlines()[1] not in page


def test_a_developer_may_not_post_to_the_page(client, developer, local_endpoint):
    client.force_login(developer)

    assert client.post("/endpoints/", local_body(name="x")).status_code == 403
    response = client.post(f"/endpoints/{local_endpoint.pk}/disable/", **HTMX)
    assert response.status_code == 403
    local_endpoint.refresh_from_db()
    assert local_endpoint.health == "off"


def test_a_bad_create_on_the_page_is_a_400_form_error(client, admin):
    client.force_login(admin)
    form = local_body(docker_url="tcp://engine", volume_store="default")
    form["max_build_hosts"] = "10"

    response = client.post("/endpoints/", form, **HTMX)

    assert response.status_code == 400
    assert "needs a host and a port" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_tlsverify_without_ca_on_the_page_names_the_field(client, admin, tls_certs):
    client.force_login(admin)
    form = {
        "name": "vch",
        "docker_url": "tcp://vch.test:2376",
        "tls_mode": "tlsverify",
        "client_certificate": tls_certs["client"].pk,
        "publish_host": "vch.test",
        "volume_store": "default",
        "max_build_hosts": "10",
    }

    response = client.post("/endpoints/", form, **HTMX)

    assert response.status_code == 400
    assert "needs the CA certificate" in response.content.decode()


def test_a_good_create_on_the_page_adds_a_row(
    client, admin, tls_certs, django_capture_on_commit_callbacks
):
    client.force_login(admin)
    form = {
        "name": "vch",
        "docker_url": "tcp://vch.test:2376",
        "tls_mode": "tlsverify",
        "ca_certificate": tls_certs["ca"].pk,
        "client_certificate": tls_certs["client"].pk,
        "publish_host": "vch.test",
        "volume_store": "default",
        "max_build_hosts": "10",
    }
    with (
        mock.patch(DELAY) as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post("/endpoints/", form, **HTMX)

    assert response.status_code == 200
    assert 'id="endpoint-table"' in response.content.decode()
    endpoint = Endpoint.objects.get(name="vch")
    assert endpoint.client_certificate == tls_certs["client"]
    delay.assert_called_once_with(endpoint.pk)
    assert AuditEvent.objects.get(action="endpoint.create").source == "ui"


def test_page_buttons_answer_the_table(client, admin, local_endpoint):
    client.force_login(admin)

    with mock.patch(DELAY):
        response = client.post(f"/endpoints/{local_endpoint.pk}/disable/", **HTMX)

    assert response.status_code == 200
    assert "Enable" in response.content.decode()
    local_endpoint.refresh_from_db()
    assert local_endpoint.health == "disabled"


def test_page_buttons_need_the_csrf_token(admin, local_endpoint):
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)

    response = client.post(f"/endpoints/{local_endpoint.pk}/probe/", **HTMX)

    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="endpoint.probe_requested").exists()


def test_an_unknown_action_is_404(client, admin, local_endpoint):
    client.force_login(admin)

    assert client.post(f"/endpoints/{local_endpoint.pk}/explode/").status_code == 404
