"""Registering endpoints through the API and probing them against real engines.

The devstack engine over its socket, and a Docker engine on a loopback port
with --tlsverify and certificates made here (the build-host image serves it,
as in test_engine_probe.py). The certificates go in as Certificate rows,
through the same service the API and the page use; the endpoint is
registered with a bearer token; the probe is the real one.
"""

import json

import pytest
from django.utils.html import escape

from hosts.certificates import commands as certificates
from hosts.endpoints import probes
from hosts.models import Endpoint

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


@pytest.fixture
def certs(admin, tls_world):
    """The test's CAs and client certificates, uploaded as Certificate rows."""

    def upload(name, pair=None, ca=None):
        if ca is not None:
            return certificates.create_certificate(
                admin, name, ca.cert_pem.decode(), source="cli"
            )
        return certificates.create_certificate(
            admin, name, pair.cert_pem.decode(), pair.key_pem.decode(), source="cli"
        )

    return {
        "ca": upload("engine-ca", ca=tls_world["ca"]),
        "client": upload("engine-client", tls_world["client"]),
        "stranger_ca": upload("stranger-ca", ca=tls_world["stranger_ca"]),
        "stranger_client": upload("stranger-client", tls_world["stranger_client"]),
    }


def register(client, token, body):
    response = client.post(
        "/api/v1/endpoints",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def read(client, token, endpoint_id):
    response = client.get(
        f"/api/v1/endpoints/{endpoint_id}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200
    return response.json()


def tls_body(port, certs, host="localhost", ca="ca", client="client"):
    return {
        "name": f"tls-{host}-{ca}-{client}",
        "docker_url": f"tcp://{host}:{port}",
        "tls_mode": "tlsverify",
        "ca_certificate_id": certs[ca].pk,
        "client_certificate_id": certs[client].pk if client else None,
        "publish_host": host,
    }


def test_the_devstack_engine_registers_and_probes_on(client, admin_token, devstack):
    endpoint_id = register(
        client,
        admin_token,
        {
            "name": "devstack",
            "docker_url": devstack["docker_url"],
            "tls_mode": "none",
            "publish_host": "127.0.0.1",
            "network": devstack["network"],
        },
    )

    probes.probe_endpoint(endpoint_id)

    body = read(client, admin_token, endpoint_id)
    assert body["health"] == "on"
    assert body["flavor"] == "docker"
    assert body["api_version"] == "1.41"
    assert body["server_version"].startswith("20.10")
    assert body["os_arch"] == "linux/x86_64"
    assert body["last_probe_at"] is not None


def test_the_tls_engine_with_the_right_client_certificate_probes_on(
    client, admin_token, tls_engine, certs
):
    endpoint_id = register(client, admin_token, tls_body(tls_engine.port, certs))

    probes.probe_endpoint(endpoint_id)

    body = read(client, admin_token, endpoint_id)
    assert body["health"] == "on", body["last_error"]
    assert body["api_version"] == "1.41"
    assert body["last_error_reason"] == ""


@pytest.mark.parametrize(
    ("settings", "reason", "words"),
    [
        ({"client": "stranger_client"}, "client_certificate_rejected", "rejected"),
        ({"client": None}, "client_certificate_missing", "requires a client"),
        ({"host": "127.0.0.1"}, "hostname_mismatch", "not valid for this"),
        ({"ca": "stranger_ca"}, "unknown_authority", "authority"),
    ],
)
def test_each_tls_failure_is_named_in_the_api_and_on_the_page(
    client, admin_token, admin, tls_engine, certs, settings, reason, words
):
    endpoint_id = register(
        client, admin_token, tls_body(tls_engine.port, certs, **settings)
    )

    probes.probe_endpoint(endpoint_id)

    body = read(client, admin_token, endpoint_id)
    assert body["health"] == "degraded"
    assert body["last_error_reason"] == reason
    assert words in body["last_error"]
    client.force_login(admin)
    page = client.get("/endpoints/").content.decode()
    assert escape(body["last_error"]) in page


def test_three_failed_probes_in_a_row_turn_it_off(
    client, admin_token, tls_engine, certs
):
    endpoint_id = register(
        client, admin_token, tls_body(tls_engine.port, certs, client="stranger_client")
    )

    healths = [probes.probe_endpoint(endpoint_id).health for _ in range(3)]

    assert healths == ["degraded", "degraded", "off"]
    assert Endpoint.objects.get(pk=endpoint_id).consecutive_failures == 3
