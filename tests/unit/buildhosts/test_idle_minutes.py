"""A build host's idle minutes: one rule (the host's, else its endpoint's,
else DCHWEB_IDLE_MINUTES; 0 = never), asked for through the API and the form,
shown by GET; an endpoint's own default through the endpoints API."""

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from hosts.buildhosts import idle
from hosts.models import BuildHost
from tests.support import world

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint():
    return world.unreachable_endpoint(
        default_image="registry.test:5443/default-project/dch-photon:20.10"
    )


def a_host(owner, endpoint, **fields):
    return BuildHost.objects.create(
        owner=owner,
        endpoint=endpoint,
        name="bh",
        image="dch-photon:test",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timedelta(hours=1),
        **fields,
    )


def test_the_host_wins_then_the_endpoint_then_the_setting(
    developer, endpoint, settings
):
    settings.DCHWEB_IDLE_MINUTES = 45
    host = a_host(developer, endpoint)
    assert host.effective_idle_minutes == 45
    endpoint.idle_minutes = 0
    assert host.effective_idle_minutes == 0
    host.idle_minutes = 15
    assert host.effective_idle_minutes == 15


def test_a_host_that_never_idles_is_not_even_looked_at(developer, endpoint):
    host = a_host(developer, endpoint, idle_minutes=0, client_cert_pem="x")
    with mock.patch("hosts.engine.read_activity") as read:
        done = idle.stop_idle_hosts(now=timezone.now() + timedelta(days=2))
    read.assert_not_called()
    assert done == {}
    host.refresh_from_db()
    assert host.state == BuildHost.State.READY


def test_an_engine_that_does_not_answer_stops_nothing(developer, endpoint):
    host = a_host(developer, endpoint, idle_minutes=5, client_cert_pem="x", port=1)
    host.set_secret("client_key", "x")
    host.save()
    done = idle.stop_idle_hosts(now=timezone.now() + timedelta(hours=1))
    assert done == {idle.UNREACHABLE: ["bh"]}
    host.refresh_from_db()
    assert host.state == BuildHost.State.READY


def test_the_api_takes_idle_minutes_and_shows_the_effective_ones(
    developer_token, endpoint, django_capture_on_commit_callbacks
):
    with (
        mock.patch("hosts.buildhosts.tasks.provision_build_host.delay"),
        mock.patch("hosts.engine.list_managed_containers", return_value=[]),
        django_capture_on_commit_callbacks(execute=True),
    ):
        answer = Client().post(
            "/api/v1/build-hosts",
            data=json.dumps({"endpoint_id": endpoint.pk, "idle_minutes": 0}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {developer_token}",
        )
    assert answer.status_code == 202, answer.content
    assert answer.json()["idle_minutes"] == 0
    assert BuildHost.objects.get().idle_minutes == 0


def test_an_endpoint_keeps_its_own_idle_minutes_and_refuses_bad_ones(
    admin_token, endpoint
):
    path = f"/api/v1/endpoints/{endpoint.pk}"
    body = {
        "name": endpoint.name,
        "docker_url": endpoint.docker_url,
        "publish_host": endpoint.publish_host or "127.0.0.1",
    }
    headers = {"HTTP_AUTHORIZATION": f"Bearer {admin_token}"}

    def put(**fields):
        return Client().put(
            path,
            data=json.dumps({**body, "tls_mode": "none", **fields}),
            content_type="application/json",
            **headers,
        )

    with mock.patch("hosts.endpoints.tasks.probe_endpoint.delay"):
        bad = put(idle_minutes=-5)
        good = put(idle_minutes=30)
    assert bad.status_code == 400, bad.content
    assert "idle time" in bad.json()["detail"]
    assert good.status_code == 200, good.content
    assert good.json()["idle_minutes"] == 30
    assert Client().get(path, **headers).json()["idle_minutes"] == 30


def test_resume_is_refused_with_words_unless_the_host_is_stopped(
    developer, developer_token, other_developer, endpoint
):
    host = a_host(developer, endpoint)
    path = f"/api/v1/build-hosts/{host.pk}/resume"
    bobs = world.api_token(other_developer)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {developer_token}"}

    assert Client().post(path, HTTP_AUTHORIZATION=f"Bearer {bobs}").status_code == 404
    answer = Client().post(path, **headers)
    assert answer.status_code == 409
    assert answer.json()["error"] == "not_stopped"
    host.state = BuildHost.State.REMOVED
    host.save()
    gone = Client().post(path, **headers)
    assert gone.status_code == 409
    assert "only a stopped build host can be resumed" in gone.json()["detail"]
