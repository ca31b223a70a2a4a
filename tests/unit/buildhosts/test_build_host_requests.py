"""Asking for a build host: every bad input has a clear 400, caps and the
Idempotency-Key hold, and nothing is saved or enqueued for a refused request.

The engine's listing (for the cap) and the enqueue are stubbed here; the real
provisioning runs in tests/integration/buildhosts/test_build_hosts.py.
"""

import json
from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from hosts import engine
from hosts.buildhosts import commands as buildhosts
from hosts.buildhosts import provisioning
from hosts.models import AuditEvent, BuildHost, Endpoint, Registry
from tests.support import world

pytestmark = pytest.mark.django_db

ENQUEUE = "hosts.buildhosts.tasks.provision_build_host.delay"
LISTING = "hosts.engine.list_managed_containers"


@pytest.fixture
def endpoint():
    return world.unreachable_endpoint(
        default_image="registry.test:5443/default-project/dch-photon:20.10",
        max_build_hosts=2,
    )


@pytest.fixture
def enqueued():
    with mock.patch(ENQUEUE) as delay:
        yield delay


@pytest.fixture
def engine_holds():
    """What the stubbed engine listing returns: build-host ids, or an error."""
    holds = {"ids": [], "error": None}

    def listing(connection, installation_id):
        if holds["error"]:
            raise holds["error"]
        return [
            engine.ManagedObject(
                "container", f"dchweb-{i}", {"io.dchweb.build-host": i}
            )
            for i in holds["ids"]
        ]

    with mock.patch(LISTING, side_effect=listing):
        yield holds


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """POST /api/v1/build-hosts; on-commit callbacks (the enqueue) run as a
    real commit would run them."""

    def send(token, body, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return Client().post(
                "/api/v1/build-hosts",
                data=json.dumps(body),
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
                **headers,
            )

    return send


@pytest.mark.parametrize(
    ("body", "field_text"),
    [
        ({"endpoint_id": 999}, "no endpoint with id 999"),
        ({"registry_ids": [999]}, "no registry with id 999"),
        ({"name": "bad name!"}, "a name is 1 to 63"),
        ({"image": "Not An Image"}, "is not an image reference"),
        ({"disk_gb": 0}, "the disk size must be between 1 GB and"),
        ({"ttl_minutes": 1}, "the time to live must be between 5 minutes and 7 days"),
        ({"volume_policy": "sometimes"}, 'volume_policy is "delete"'),
        ({"volume_policy": "keep_days:0"}, "kept for 1 to 365 days"),
        ({"idle_minutes": -1}, "the idle time must be between 0 minutes and 7 days"),
        ({"idle_minutes": 10081}, "the idle time must be between 0 minutes and"),
    ],
)
def test_bad_input_is_a_400_that_says_what_and_saves_nothing(
    post, developer_token, endpoint, enqueued, engine_holds, body, field_text
):
    answer = post(developer_token, {"endpoint_id": endpoint.pk, **body})

    assert answer.status_code == 400, answer.content
    assert answer.json()["error"] == "invalid_build_host"
    assert field_text in answer.json()["detail"]
    assert BuildHost.objects.count() == 0
    enqueued.assert_not_called()


def test_a_wrongly_typed_field_is_a_400_too(post, developer_token, endpoint, enqueued):
    answer = post(developer_token, {"endpoint_id": "one"})
    assert answer.status_code == 400
    assert "endpoint_id" in answer.json()["detail"]


def test_a_disabled_endpoint_is_refused(
    post, developer_token, endpoint, enqueued, engine_holds
):
    endpoint.health = Endpoint.Health.DISABLED
    endpoint.save()
    answer = post(developer_token, {"endpoint_id": endpoint.pk})
    assert answer.status_code == 400
    assert "disabled" in answer.json()["detail"]


def test_defaults_policy_and_audit(
    post, developer, developer_token, endpoint, enqueued, engine_holds
):
    registry = Registry.objects.create(name="r", address="registry.test:5443")

    answer = post(
        developer_token, {"endpoint_id": endpoint.pk, "volume_policy": "keep_days:3"}
    )

    assert answer.status_code == 202, answer.content
    host = BuildHost.objects.get()
    assert answer.json()["id"] == str(host.pk)
    assert answer.json()["volume_policy"] == "keep_days:3"
    assert host.image == endpoint.default_image
    assert list(host.registries.all()) == [registry]
    assert host.expires_at > timezone.now() + timedelta(minutes=470)
    enqueued.assert_called_once_with(str(host.pk))
    event = AuditEvent.objects.get(action="build_host.created")
    assert event.actor == developer and event.source == "api"


def test_the_endpoint_cap_counts_engine_truth_plus_hosts_starting(
    post, developer_token, endpoint, enqueued, engine_holds
):
    engine_holds["ids"] = ["made-by-an-earlier-life"]
    assert post(developer_token, {"endpoint_id": endpoint.pk}).status_code == 202

    refused = post(developer_token, {"endpoint_id": endpoint.pk})

    assert refused.status_code == 409
    assert refused.json()["error"] == "cap_reached"
    assert "its cap" in refused.json()["detail"]
    assert BuildHost.objects.count() == 1


def test_the_cap_falls_back_on_the_database_when_the_engine_is_down(
    post, developer, developer_token, endpoint, enqueued, engine_holds
):
    engine_holds["error"] = engine.EngineUnreachable("down")
    for _ in range(2):
        assert post(developer_token, {"endpoint_id": endpoint.pk}).status_code == 202
    assert post(developer_token, {"endpoint_id": endpoint.pk}).status_code == 409


def test_the_per_user_cap(
    post, developer_token, endpoint, enqueued, engine_holds, settings
):
    settings.DCHWEB_MAX_BUILD_HOSTS_PER_USER = 1
    endpoint.max_build_hosts = 10
    endpoint.save()
    assert post(developer_token, {"endpoint_id": endpoint.pk}).status_code == 202
    refused = post(developer_token, {"endpoint_id": endpoint.pk})
    assert refused.status_code == 409
    assert "the most one person may have" in refused.json()["detail"]


def test_idempotency_key_returns_the_same_host_and_enqueues_once(
    post, developer_token, endpoint, enqueued, engine_holds
):
    body = {"endpoint_id": endpoint.pk, "name": "ci"}
    first = post(developer_token, body, HTTP_IDEMPOTENCY_KEY="k1")
    second = post(developer_token, body, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.json()["id"] == second.json()["id"]
    assert enqueued.call_count == 1
    # Another user may use the same key for their own host.
    assert BuildHost.objects.count() == 1


def test_extend_and_remove_are_recorded(
    django_capture_on_commit_callbacks, developer, endpoint, enqueued, engine_holds
):
    host, _ = buildhosts.create_build_host(
        developer, {"endpoint_id": endpoint.pk}, source="ui"
    )
    host.state = BuildHost.State.READY
    host.save()
    before = host.expires_at

    with pytest.raises(buildhosts.BuildHostInvalid):
        buildhosts.extend(developer, host, 0, source="ui")
    host = buildhosts.extend(developer, host, 30, source="ui")
    assert host.expires_at == before + timedelta(minutes=30)

    with (
        mock.patch("hosts.buildhosts.tasks.remove_build_host.delay") as remove,
        django_capture_on_commit_callbacks(execute=True),
    ):
        with pytest.raises(buildhosts.BuildHostInvalid):
            buildhosts.request_removal(developer, host, "shred", source="ui")
        host = buildhosts.request_removal(developer, host, "keep", source="ui")
        again = buildhosts.request_removal(developer, host, "delete", source="ui")
    assert host.state == again.state == BuildHost.State.REMOVING
    assert host.remove_volumes is False and again.remove_volumes is False
    remove.assert_called_once_with(str(host.pk))
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"build_host.extended", "build_host.removed"} <= actions
    with pytest.raises(buildhosts.BuildHostConflict):
        buildhosts.extend(developer, host, 30, source="ui")


@pytest.mark.parametrize(
    ("publish_host", "bound"),
    [("127.0.0.1", "127.0.0.1"), ("10.0.0.5", ""), ("vch.example.test", "")],
)
def test_the_tls_port_stays_on_loopback_only_for_a_loopback_publish_host(
    publish_host, bound
):
    assert provisioning.publish_address(publish_host) == bound


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("manifest unknown: manifest unknown", "image_not_found"),
        ("unauthorized: authentication required", "login_refused"),
        ("x509: certificate signed by unknown authority", "unknown_authority"),
        ("write /var/lib/docker/tmp: no space left on device", "out_of_disk"),
    ],
)
def test_pull_failures_are_worded_for_developers(text, reason):
    assert engine._pull_failure(text).reason == reason


def test_metrics_count_build_hosts_by_state(
    post, developer_token, endpoint, enqueued, engine_holds
):
    post(developer_token, {"endpoint_id": endpoint.pk})

    text = (
        Client()
        .get("/metrics", HTTP_AUTHORIZATION=f"Bearer {developer_token}")
        .content.decode()
    )

    assert 'dchweb_build_hosts{state="requested"} 1' in text
    assert 'dchweb_build_hosts{state="ready"} 0' in text


def test_the_list_comes_a_page_at_a_time_newest_first(
    api_get, developer, developer_token, endpoint
):
    now = timezone.now()
    BuildHost.objects.bulk_create(
        BuildHost(
            name=f"h{n}",
            owner=developer,
            endpoint=endpoint,
            image="registry.test:5443/default-project/dch-photon:20.10",
            state=BuildHost.State.REMOVED,
            expires_at=now,
            created_at=now - timedelta(minutes=n),
        )
        for n in range(105)
    )

    def names(path):
        answer = api_get(path, developer_token)
        assert answer.status_code == 200, answer.content
        return [host["name"] for host in answer.json()]

    assert names("/api/v1/build-hosts") == [f"h{n}" for n in range(100)]
    assert names("/api/v1/build-hosts?limit=3&offset=101") == ["h101", "h102", "h103"]
    assert api_get("/api/v1/build-hosts?limit=0", developer_token).status_code == 400
    assert api_get("/api/v1/build-hosts?limit=1001", developer_token).status_code == 400
