"""Registry checks against the devstack's real registry, and the trust matrix
against the devstack's real engine: each failure is named for people."""

import http.server
import os
import socket
import threading

import pytest

from hosts.lib import registry_check
from hosts.models import AuditEvent, Endpoint, RegistryTrust
from hosts.registries import commands as registries
from tests.support import pki
from tests.support.buildhost import free_loopback_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def reg(devstack):
    return {
        "address": devstack["registry"],
        "ca_pem": devstack["registry_ca"].decode(),
        "username": devstack["registry_user"],
        "password": devstack["registry_password"],
    }


def test_right_ca_and_login_is_ok(reg):
    result = registry_check.check_registry(**reg)
    assert (result.ok, result.reason) == (True, "ok")


def test_wrong_password_is_login_refused(reg):
    result = registry_check.check_registry(**{**reg, "password": "not-the-password"})
    assert (result.ok, result.reason) == (False, "login_refused")
    assert "login refused" in result.message


def test_no_login_on_a_registry_that_needs_one_says_so(reg):
    result = registry_check.check_registry(reg["address"], reg["ca_pem"])
    assert result.reason == "login_required"


def test_without_the_ca_is_unknown_authority(reg, monkeypatch):
    # The environment's CA bundle (even the right CA) must not be used either.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", os.environ["DCHWEB_REGISTRY_CA"])
    result = registry_check.check_registry(**{**reg, "ca_pem": ""})
    assert result.reason == "unknown_authority"
    assert "add the registry's CA certificate" in result.message


def test_another_ca_is_unknown_authority(reg):
    stranger = pki.make_ca("not the registry's CA").cert_pem.decode()
    result = registry_check.check_registry(**{**reg, "ca_pem": stranger})
    assert result.reason == "unknown_authority"
    assert "does not cover" in result.message


def test_nothing_listening_is_connection_refused(reg):
    address = f"127.0.0.1:{free_loopback_port()}"
    result = registry_check.check_registry(**{**reg, "address": address})
    assert result.reason == "connection_refused"


def test_a_silent_listener_is_a_timeout(reg):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        address = f"127.0.0.1:{silent.getsockname()[1]}"
        result = registry_check.check_registry(**{**reg, "address": address}, timeout=1)
    assert result.reason == "timeout"


def test_unknown_host_is_named(reg):
    result = registry_check.check_registry(**{**reg, "address": "nowhere.invalid"})
    assert result.reason == "unknown_host"


def test_plain_http_port_is_tls_not_served(reg):
    server = http.server.HTTPServer(
        ("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"127.0.0.1:{server.server_address[1]}"
        result = registry_check.check_registry(**{**reg, "address": address})
    finally:
        server.shutdown()
        server.server_close()
    assert result.reason == "tls_not_served"


@pytest.mark.django_db
def test_check_is_stored_and_a_change_is_audited(reg):
    registry = registries.create_registry(
        None, name="devstack", source="cli", **{**reg, "password": "wrong"}
    )
    checked = registries.check_registry(registry.pk)
    assert (checked.last_check_ok, checked.last_check_reason) == (
        False,
        "login_refused",
    )
    registries.update_registry(None, checked, password=reg["password"], source="cli")
    checked = registries.check_registry(registry.pk)
    assert checked.last_check_ok is True
    assert checked.last_check_error == ""
    registries.check_registry(registry.pk)  # unchanged: not audited again
    changes = AuditEvent.objects.filter(action="registry.check_changed")
    assert [event.details["to"] for event in changes] == ["ok", "login_refused"]


@pytest.mark.django_db
def test_the_devstack_engine_can_log_in_in_the_trust_matrix(reg, devstack):
    from hosts.registries import tasks

    local = Endpoint.objects.create(
        name="local",
        docker_url=devstack["docker_url"],
        tls_mode=Endpoint.TlsMode.NONE,
        publish_host="127.0.0.1",
    )
    good = registries.create_registry(None, name="devstack", source="cli", **reg)
    # The same registry by its IP address, with a wrong password.
    host, port = reg["address"].rsplit(":", 1)
    wrong = registries.create_registry(
        None,
        name="wrong password",
        source="cli",
        **{
            **reg,
            "address": f"{socket.gethostbyname(host)}:{port}",
            "password": "not-the-password",
        },
    )

    assert tasks.check_registry_trust.apply().get() == 2

    cells = {trust.registry_id: trust for trust in RegistryTrust.objects.all()}
    assert (cells[good.pk].ok, cells[good.pk].reason) == (True, "ok")
    assert (cells[wrong.pk].ok, cells[wrong.pk].reason) == (False, "login_refused")
    matrix = registries.trust_matrix()
    assert [row[0] for row in matrix.rows] == [local]
    assert matrix.checked_at is not None


def _poll_until_done(client, fragment, timeout=30):
    """Follow the fragment's own polling URL until it stops polling."""
    import re
    import time

    deadline = time.monotonic() + timeout
    while "Rechecking" in fragment and time.monotonic() < deadline:
        url = re.search(r'hx-get="([^"]+)"', fragment).group(1).replace("&amp;", "&")
        time.sleep(0.5)
        fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    return fragment


@pytest.mark.django_db(transaction=True)
def test_recheck_runs_in_the_worker_and_the_fragment_follows(
    celery_worker, client, admin, reg, devstack
):
    Endpoint.objects.create(
        name="local",
        docker_url=devstack["docker_url"],
        tls_mode=Endpoint.TlsMode.NONE,
        publish_host="127.0.0.1",
    )
    registries.create_registry(None, name="devstack", source="cli", **reg)
    client.force_login(admin)

    response = client.post("/registries/trust/", HTTP_HX_REQUEST="true")
    fragment = response.content.decode()
    assert response.status_code == 200
    assert "Rechecking" in fragment and 'hx-trigger="every 2s"' in fragment

    fragment = _poll_until_done(client, fragment)
    assert "Rechecking" not in fragment
    assert "can pull" in fragment
    assert RegistryTrust.objects.get().reason == "ok"
