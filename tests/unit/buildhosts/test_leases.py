"""The heartbeat lease from the request side, and the build_host.expiring
notice: what a holder may send and is told, who may renew whose lease, and
an owner told once per expiry. No engine is involved: the hosts are rows
(tests/integration/buildhosts/test_leases.py removes real ones)."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from hosts.accounts import commands as accounts
from hosts.buildhosts import commands as buildhosts
from hosts.buildhosts import lifetime
from hosts.models import BuildHost, Notification
from tests.support import world

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint():
    return world.unreachable_endpoint(
        default_image="registry.test:5443/default-project/dch-photon:20.10"
    )


def a_host(owner, endpoint, **values):
    now = timezone.now()
    return BuildHost.objects.create(
        **{
            "owner": owner,
            "endpoint": endpoint,
            "name": "leased",
            "image": "registry.test:5443/p/dch:1",
            "state": BuildHost.State.READY,
            "expires_at": now + timedelta(hours=8),
            "lease_seconds": 60,
            "lease_expires_at": now + timedelta(seconds=60),
            **values,
        }
    )


def post(user_or_token, path, body=None, scope="write"):
    token = user_or_token
    if not isinstance(token, str):
        _, token = accounts.create_api_token(
            user_or_token, "t", actor=None, source="cli", scope=scope
        )
    return Client().post(
        f"/api/v1{path}",
        data=json.dumps(body or {}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


OUT_OF_BOUNDS = "the lease must be between 30 seconds and 86400 seconds"


@pytest.mark.parametrize(
    ("lease", "code", "words"),
    [
        (10, "invalid_build_host", OUT_OF_BOUNDS),
        (86401, "invalid_build_host", OUT_OF_BOUNDS),
        (0, "invalid_build_host", OUT_OF_BOUNDS),
        (
            "soon",
            "bad_request",
            "payload.lease_seconds: Input should be a valid integer",
        ),
    ],
)
def test_a_lease_out_of_bounds_is_a_clear_400_and_saves_nothing(
    developer, endpoint, lease, code, words
):
    answer = post(
        developer, "/build-hosts", {"endpoint_id": endpoint.pk, "lease_seconds": lease}
    )

    assert answer.status_code == 400, answer.content
    assert answer.json()["error"] == code
    assert answer.json()["detail"].startswith(words)
    assert not BuildHost.objects.exists()


def test_a_heartbeat_renews_the_owners_lease_from_now(developer, endpoint):
    host = a_host(developer, endpoint)
    BuildHost.objects.filter(pk=host.pk).update(
        lease_expires_at=timezone.now() + timedelta(seconds=5)
    )
    before = timezone.now()

    answer = post(developer, f"/build-hosts/{host.pk}/heartbeat")

    assert answer.status_code == 200, answer.content
    host.refresh_from_db()
    assert host.lease_expires_at >= before + timedelta(seconds=60)
    assert set(answer.json()) == {"lease_expires_at"}
    shown = world.api_client(developer).get(f"/api/v1/build-hosts/{host.pk}").json()
    assert shown["lease_seconds"] == 60
    assert shown["lease_expires_at"] == answer.json()["lease_expires_at"]


def test_nobody_else_renews_a_lease_and_a_read_token_may_not(
    developer, other_developer, endpoint
):
    host = a_host(developer, endpoint)
    lease = host.lease_expires_at

    stranger = post(other_developer, f"/build-hosts/{host.pk}/heartbeat")
    reader = post(developer, f"/build-hosts/{host.pk}/heartbeat", scope="read")
    nobody = post("not-a-token", f"/build-hosts/{host.pk}/heartbeat")

    assert stranger.status_code == 404
    assert reader.status_code == 403
    assert nobody.status_code == 401
    host.refresh_from_db()
    assert host.lease_expires_at == lease


@pytest.mark.parametrize(
    ("values", "code", "words"),
    [
        ({"lease_seconds": None, "lease_expires_at": None}, "no_lease", "no lease"),
        ({"state": BuildHost.State.FAILED}, "lease_ended", "is failed"),
        ({"state": BuildHost.State.REMOVED}, "lease_ended", "is removed"),
    ],
    ids=["no lease", "failed", "removed"],
)
def test_a_lease_that_is_not_there_is_a_409_in_words(
    developer, endpoint, values, code, words
):
    host = a_host(developer, endpoint, **values)

    answer = post(developer, f"/build-hosts/{host.pk}/heartbeat")

    assert answer.status_code == 409
    assert answer.json()["error"] == code
    assert words in answer.json()["detail"]


def test_the_pass_never_takes_a_host_within_its_first_lease(developer, endpoint):
    now = timezone.now()
    # A row whose lease says lapsed though the host is younger than one lease
    # (a clock stepped back, a hand-edited row): it stays.
    a_host(
        developer,
        endpoint,
        created_at=now - timedelta(seconds=30),
        lease_expires_at=now - timedelta(seconds=1),
    )

    assert lifetime.reap_lapsed_leases(now) == []
    assert BuildHost.objects.get().state == BuildHost.State.READY


def test_an_owner_is_told_once_that_a_host_expires_and_again_after_extending(
    developer, endpoint, settings
):
    settings.DCHWEB_EXPIRY_NOTICE_MINUTES = 60
    now = timezone.now()
    soon = a_host(developer, endpoint, expires_at=now + timedelta(minutes=20))
    a_host(developer, endpoint, name="later", expires_at=now + timedelta(hours=3))

    told = [lifetime.notify_expiring(now), lifetime.notify_expiring(now)]

    assert told == [1, 0]
    notice = Notification.objects.get()
    assert notice.event == "build_host.expiring"
    assert notice.owner == developer
    assert notice.object["name"] == "leased"
    assert notice.object["id"] == str(soon.pk)
    assert notice.object["url"] == f"/build-hosts/{soon.pk}/"

    buildhosts.extend(developer, soon, 30, source="api")

    assert lifetime.notify_expiring(now) == 1
    assert Notification.objects.filter(event="build_host.expiring").count() == 2


def test_no_notice_when_the_installation_says_never(developer, endpoint, settings):
    settings.DCHWEB_EXPIRY_NOTICE_MINUTES = 0
    a_host(developer, endpoint, expires_at=timezone.now() + timedelta(minutes=5))

    assert lifetime.notify_expiring() == 0
    assert not Notification.objects.exists()
