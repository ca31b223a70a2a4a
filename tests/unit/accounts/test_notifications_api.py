"""/api/v1/notifications and /api/v1/notification-settings: the page's
choices and list, for CI and scripts. Each person's own only; an event not
theirs to choose is a 400 that saves nothing; a read-only token may look,
not choose."""

import json

import pytest
from django.test import Client

from hosts.accounts import commands as accounts
from hosts.models import Notification, NotificationSettings
from tests.support.world import api_token

pytestmark = pytest.mark.django_db

SETTINGS = "/api/v1/notification-settings"


def call(method, path, token, body=None):
    return Client().generic(
        method,
        path,
        data=b"" if body is None else json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def test_my_notifications_in_words_and_nobody_elses(developer, other_developer):
    Notification.objects.create(
        event="build_host.ready",
        object={"name": "web-1", "endpoint": "vch-1"},
        owner=developer,
    )
    Notification.objects.create(
        event="build_host.ready", object={"name": "theirs"}, owner=other_developer
    )
    Notification.objects.create(event="endpoint.off", object={"name": "vch-9"})

    answer = call("GET", "/api/v1/notifications", api_token(developer))

    assert answer.status_code == 200
    told = answer.json()
    assert [item["object"]["name"] for item in told] == ["web-1"]
    assert told[0]["summary"].startswith("Build host web-1 is ready")
    assert told[0]["mail_state"] == "pending"


def test_i_choose_the_events_mailed_to_me(developer):
    token = api_token(developer)
    before = call("GET", SETTINGS, token).json()
    assert all(item["mailed"] for item in before["events"])
    assert "endpoint.off" not in {item["event"] for item in before["events"]}

    answer = call("PUT", SETTINGS, token, {"mailed": ["build.failed"]})

    assert answer.status_code == 200, answer.content
    mailed = {item["event"] for item in answer.json()["events"] if item["mailed"]}
    assert mailed == {"build.failed"}
    muted = NotificationSettings.objects.get(user=developer).muted_events
    assert "build.failed" not in muted and "build_host.ready" in muted


def test_an_event_not_mine_is_a_400_and_nothing_changes(developer):
    answer = call(
        "PUT", SETTINGS, api_token(developer), {"mailed": ["endpoint.off", "nope"]}
    )

    assert answer.status_code == 400
    assert "not yours to choose: endpoint.off, nope" in answer.json()["detail"]
    assert not NotificationSettings.objects.filter(user=developer).exists()


def test_a_read_only_token_looks_but_does_not_choose(developer):
    _, token = accounts.create_api_token(
        developer, "ro", actor=None, scope="read", source="cli"
    )

    assert call("GET", SETTINGS, token).status_code == 200
    assert call("PUT", SETTINGS, token, {"mailed": []}).status_code == 403
    assert not NotificationSettings.objects.filter(user=developer).exists()
