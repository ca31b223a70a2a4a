"""An endpoint's warm pool size: PATCH (only what it names changes), the
edit page, the words for a bad size, and the refill sent once it commits."""

import json
from types import SimpleNamespace
from unittest import mock

import pytest

from dchweb.celery import app
from hosts.core.queue import REFILL_POOL_TASK
from hosts.endpoints import commands as endpoints
from hosts.endpoints import probes
from hosts.models import AuditEvent, Endpoint
from tests.support import world

pytestmark = pytest.mark.django_db

IMAGE = "registry.test:5443/default-project/dch-photon:20.10"


@pytest.fixture
def local_endpoint():
    return world.unreachable_endpoint(default_image=IMAGE, max_build_hosts=4)


def patch(client, endpoint, body, token):
    return client.patch(
        f"/api/v1/endpoints/{endpoint.pk}",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_patch_sets_the_pool_and_sends_its_refill(
    client, admin_token, local_endpoint, django_capture_on_commit_callbacks
):
    with (
        mock.patch.object(app, "send_task") as send_task,
        mock.patch("hosts.endpoints.tasks.probe_endpoint.delay"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = patch(client, local_endpoint, {"pool_size": 2}, admin_token)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["pool_size"], body["pool_ready"]) == (2, 0)
    # Only the pool changed: the rest is as it was.
    assert body["default_image"] == IMAGE and body["max_build_hosts"] == 4
    send_task.assert_called_once_with(
        endpoints.REFILL_POOL_TASK, args=(local_endpoint.pk,)
    )
    event = AuditEvent.objects.get(action="endpoint.update")
    assert event.details["changed"] == {"pool_size": "2"}
    # A change that leaves the size out keeps it (PUT and PATCH alike).
    response = patch(client, local_endpoint, {"network": "builds"}, admin_token)
    assert response.json()["pool_size"] == 2


@pytest.mark.parametrize(
    ("size", "code", "words"),
    [
        (-1, "invalid_endpoint", "from 0 (no pool) to 4"),
        (5, "invalid_endpoint", "more than the endpoint's cap of 4"),
        # The schema's own refusal, naming the field.
        (2.5, "bad_request", "pool_size"),
        ("many", "bad_request", "pool_size"),
    ],
)
def test_a_bad_pool_size_is_a_400_in_words(
    client, admin_token, local_endpoint, size, code, words
):
    response = patch(client, local_endpoint, {"pool_size": size}, admin_token)

    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == code
    assert words in body["detail"]
    local_endpoint.refresh_from_db()
    assert local_endpoint.pool_size == 0


def test_the_pool_may_not_outgrow_a_lowered_cap(admin, local_endpoint):
    with pytest.raises(endpoints.EndpointInvalid, match="cap of 2"):
        endpoints.patch_endpoint(
            admin, local_endpoint, {"pool_size": 3, "max_build_hosts": 2}, source="cli"
        )


def test_a_developer_may_not_patch(client, developer_token, local_endpoint):
    response = patch(client, local_endpoint, {"pool_size": 1}, developer_token)

    assert response.status_code == 403


def test_the_edit_page_sets_the_pool_and_says_what_is_wrong(
    client, admin, local_endpoint
):
    client.force_login(admin)
    url = f"/endpoints/{local_endpoint.pk}/edit/"
    page = client.get(url).content.decode()
    assert "Warm pool size" in page and "0 = no pool" in page
    form = {
        "name": local_endpoint.name,
        "docker_url": local_endpoint.docker_url,
        "tls_mode": "none",
        "publish_host": "127.0.0.1",
        "default_image": IMAGE,
        "volume_store": "default",
        "max_build_hosts": "4",
    }

    refused = client.post(url, {**form, "pool_size": "9"})
    assert refused.status_code == 400
    assert "more than the endpoint&#x27;s cap of 4" in refused.content.decode()
    with mock.patch.object(app, "send_task"):
        saved = client.post(url, {**form, "pool_size": "1"})
    assert saved.status_code == 302
    local_endpoint.refresh_from_db()
    assert local_endpoint.pool_size == 1
    client.get("/endpoints/")
    table = client.get("/endpoints/").content.decode()
    assert "0 of 1 ready" in table


def test_an_endpoint_coming_back_on_refills_its_pool_at_once(
    local_endpoint, django_capture_on_commit_callbacks
):
    answer = SimpleNamespace(
        flavor="docker",
        api_version="1.41",
        server_version="20.10.24",
        os_type="linux",
        architecture="x86_64",
        volume_stores=[],
    )
    local_endpoint.health = Endpoint.Health.OFF
    local_endpoint.pool_size = 2
    local_endpoint.save()
    with (
        mock.patch.object(app, "send_task") as send_task,
        django_capture_on_commit_callbacks(execute=True),
    ):
        probes._record_success(local_endpoint.pk, answer)
        # Still on: no news, no second refill (the periodic pass keeps it).
        probes._record_success(local_endpoint.pk, answer)

    send_task.assert_called_once_with(REFILL_POOL_TASK, args=(local_endpoint.pk,))
