"""A developer is refused every admin-only call, in the API and the pages."""

import json

import pytest

from hosts.models import Endpoint, Registry

pytestmark = pytest.mark.django_db

# Complete, valid bodies: the refusal must come from the role, not the input.
ENDPOINT = {
    "name": "x",
    "docker_url": "unix:///x.sock",
    "tls_mode": "none",
    "publish_host": "127.0.0.1",
}
ADMIN_ONLY_API = [
    ("post", "/api/v1/endpoints", ENDPOINT),
    ("put", "/api/v1/endpoints/{endpoint}", ENDPOINT),
    ("post", "/api/v1/endpoints/{endpoint}/probe", {}),
    ("post", "/api/v1/endpoints/{endpoint}/disable", {}),
    ("post", "/api/v1/endpoints/{endpoint}/enable", {}),
    ("post", "/api/v1/registries", {"name": "r", "address": "r.test:5000"}),
    ("post", "/api/v1/registries/{registry}/check", {}),
    ("post", "/api/v1/certificates", {"name": "c", "pem": "not a certificate"}),
    ("get", "/api/v1/audit-events", None),
    ("post", "/api/v1/certificate-authority/rotate", {}),
]
ADMIN_ONLY_PAGES = [
    ("get", "/audit/"),
    ("post", "/endpoints/"),
    ("post", "/endpoints/{endpoint}/probe/"),
    ("post", "/endpoints/{endpoint}/disable/"),
    ("post", "/endpoints/{endpoint}/enable/"),
    ("post", "/registries/"),
    ("post", "/registries/{registry}/check"),
    ("post", "/registries/trust/"),
    ("post", "/certificates/"),
    ("post", "/certificates/ca/rotate/"),
]


@pytest.fixture
def objects():
    endpoint = Endpoint.objects.create(
        name="e", docker_url="unix:///e.sock", tls_mode="none", publish_host="h"
    )
    registry = Registry.objects.create(name="r", address="r.test:5000")
    return {"endpoint": endpoint.pk, "registry": registry.pk}


@pytest.mark.parametrize(("method", "url", "body"), ADMIN_ONLY_API)
def test_developer_gets_403_json_from_admin_api(
    client, developer_token, objects, method, url, body
):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {developer_token}"}
    if body is not None:
        kwargs |= {"data": json.dumps(body), "content_type": "application/json"}

    response = getattr(client, method)(url.format(**objects), **kwargs)

    assert response.status_code == 403, response.content
    assert response.json()["error"] == "forbidden"


@pytest.mark.parametrize(("method", "url"), ADMIN_ONLY_PAGES)
def test_developer_gets_403_from_admin_pages(client, developer, objects, method, url):
    client.force_login(developer)

    response = getattr(client, method)(url.format(**objects))

    assert response.status_code == 403
    assert Endpoint.objects.get().health == Endpoint.Health.OFF
