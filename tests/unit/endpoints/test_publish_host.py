"""publish_host, the address users reach a build host's ports on: given, or
the host of a tcp:// Docker URL; a unix socket names no address, so there it
must be given (a loopback guess would bind the ports to loopback only)."""

import json
from unittest import mock

import pytest

from hosts.core.errors import Invalid
from hosts.endpoints import commands as endpoints
from hosts.models import AuditEvent, Endpoint

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
DELAY = "hosts.endpoints.tasks.probe_endpoint.delay"
UNIX_REFUSAL = "a publish host is required for a unix socket endpoint"


@pytest.fixture(autouse=True)
def no_probe():
    with mock.patch(DELAY):
        yield


def settings_for(docker_url, **overrides):
    return {"name": "e", "docker_url": docker_url, "tls_mode": "none"} | overrides


@pytest.mark.parametrize(
    ("docker_url", "derived"),
    [
        ("tcp://vch.example.test:2376", "vch.example.test"),
        ("tcp://10.0.0.5:2375", "10.0.0.5"),
        ("tcp://[fd00::5]:2376", "fd00::5"),
    ],
)
def test_without_a_publish_host_a_tcp_endpoint_publishes_on_its_engines_host(
    admin, docker_url, derived
):
    endpoint = endpoints.create_endpoint(admin, settings_for(docker_url), source="cli")

    assert endpoint.publish_host == derived


def test_a_given_publish_host_is_kept(admin):
    data = settings_for("tcp://vch.example.test:2376", publish_host="203.0.113.7")

    endpoint = endpoints.create_endpoint(admin, data, source="cli")

    assert endpoint.publish_host == "203.0.113.7"


@pytest.mark.parametrize("publish_host", [None, "", "   "])
def test_a_unix_socket_endpoint_needs_a_publish_host(admin, publish_host):
    data = settings_for("unix:///var/run/docker.sock", publish_host=publish_host)

    with pytest.raises(Invalid, match=UNIX_REFUSAL) as refused:
        endpoints.create_endpoint(admin, data, source="cli")

    assert refused.value.field == "publish_host"
    assert not Endpoint.objects.exists()


def test_an_update_without_a_publish_host_follows_the_new_url(admin):
    endpoint = endpoints.create_endpoint(
        admin, settings_for("tcp://old.test:2376"), source="cli"
    )

    endpoints.update_endpoint(
        admin, endpoint, settings_for("tcp://new.test:2376"), source="cli"
    )

    endpoint.refresh_from_db()
    assert endpoint.publish_host == "new.test"


def post_json(client, path, body, token):
    return client.post(
        path,
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_the_api_accepts_an_endpoint_without_a_publish_host(client, admin_token):
    response = post_json(
        client, "/api/v1/endpoints", settings_for("tcp://vch.test:2375"), admin_token
    )

    assert response.status_code == 201, response.content
    assert response.json()["publish_host"] == "vch.test"


def test_the_api_refuses_a_unix_endpoint_without_a_publish_host(client, admin_token):
    body = settings_for("unix:///var/run/docker.sock")

    response = post_json(client, "/api/v1/endpoints", body, admin_token)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_endpoint",
        "detail": UNIX_REFUSAL + ": the address users reach published ports on",
    }
    assert not AuditEvent.objects.filter(action__startswith="endpoint.").exists()


def test_the_schema_no_longer_requires_a_publish_host():
    from hosts.api import api

    schema = api.get_openapi_schema()["components"]["schemas"]["EndpointIn"]

    assert "publish_host" not in schema.get("required", [])
    assert {"name", "docker_url"} <= set(schema["required"])


def page_form(docker_url, **overrides):
    return (
        settings_for(docker_url, volume_store="default", max_build_hosts="10")
        | {"publish_host": ""}
        | overrides
    )


def test_the_page_derives_an_empty_publish_host(client, admin):
    client.force_login(admin)

    response = client.post("/endpoints/", page_form("tcp://vch.test:2375"), **HTMX)

    assert response.status_code == 200, response.content
    assert Endpoint.objects.get(name="e").publish_host == "vch.test"


def test_the_page_shows_the_unix_refusal_on_the_form(client, admin):
    client.force_login(admin)

    response = client.post(
        "/endpoints/", page_form("unix:///var/run/docker.sock"), **HTMX
    )

    assert response.status_code == 400
    assert UNIX_REFUSAL in response.content.decode()
    assert not Endpoint.objects.exists()
