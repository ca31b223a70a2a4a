"""Login throttling (django-axes): five failed sign-ins for one user name from
one address lock that name at that address for 15 minutes, on the project's
login page, with an audit event; other names, other addresses and API tokens
are untouched."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F

from hosts.models import AuditEvent

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
HOME_ADDRESS = "203.0.113.7"
OTHER_ADDRESS = "198.51.100.9"
LOCKOUT_WORDS = "Too many failed sign-ins for"
WAIT_WORDS = "try again in 15 minutes"


def sign_in(client, username, password, address=HOME_ADDRESS):
    return client.post(
        LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address
    )


def fail(client, username, times, address=HOME_ADDRESS):
    return [sign_in(client, username, "wrong-password", address) for _ in range(times)]


def is_signed_in(response):
    return response.status_code == 302 and response["Location"] == "/"


def time_passes(minutes):
    """Every recorded failure happened `minutes` earlier than it did."""
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - timedelta(minutes=minutes)
    )


def test_the_fifth_failure_locks_and_the_right_password_is_then_refused(
    client, developer
):
    failures = fail(client, "alice", 5)

    assert [r.status_code for r in failures[:4]] == [200] * 4
    assert "enter a correct username and password" in failures[0].content.decode()
    assert failures[4].status_code == 429

    refused = sign_in(client, "alice", "alice-password-1")

    assert refused.status_code == 429
    text = refused.content.decode()
    assert LOCKOUT_WORDS in text
    assert "<strong>alice</strong>" in text
    assert WAIT_WORDS in text
    assert "_auth_user_id" not in client.session
    assert client.get("/")["Location"].startswith(LOGIN)


def test_the_lockout_is_the_styled_login_page(client, developer):
    fail(client, "alice", 5)

    refused = sign_in(client, "alice", "alice-password-1")

    # The login view's page first, then axes' lockout page in its place.
    rendered = [t.name for t in refused.templates]
    assert "registration/locked_out.html" in rendered
    assert rendered[rendered.index("registration/locked_out.html") :][:3] == [
        "registration/locked_out.html",
        "registration/login.html",
        "base.html",
    ]
    text = refused.content.decode()
    assert '<header class="topbar">' in text
    assert "css/dchweb.css" in text
    assert '<form method="post" action="/accounts/login/">' in text


def test_a_lockout_is_audited_once_with_the_name_and_the_address(client, developer):
    fail(client, "alice", 4)
    assert not AuditEvent.objects.filter(action="login.locked_out").exists()

    fail(client, "alice", 1)
    sign_in(client, "alice", "alice-password-1")
    fail(client, "alice", 2)

    event = AuditEvent.objects.get(action="login.locked_out")
    assert event.details == {
        "username": "alice",
        "ip_address": HOME_ADDRESS,
        "failures": 5,
        "lockout_minutes": 15,
    }
    assert event.remote_addr == HOME_ADDRESS
    assert event.source == "ui"
    assert event.actor is None
    assert event.object_type == "auth.user"
    assert event.object_id == str(developer.pk)


def test_an_unknown_name_is_locked_and_audited_too(client, db):
    fail(client, "mallory", 5)

    event = AuditEvent.objects.get(action="login.locked_out")
    assert event.details["username"] == "mallory"
    assert event.object_id == ""


def test_the_same_name_from_another_address_still_signs_in(client, developer):
    fail(client, "alice", 6)

    assert is_signed_in(sign_in(client, "alice", "alice-password-1", OTHER_ADDRESS))


def test_another_name_from_the_same_address_still_signs_in(
    client, developer, other_developer
):
    fail(client, "alice", 6)

    assert is_signed_in(sign_in(client, "bob", "bob-password-1"))


def test_the_lockout_lasts_15_minutes_from_the_last_failure(client, developer):
    fail(client, "alice", 5)

    time_passes(14)
    assert sign_in(client, "alice", "alice-password-1").status_code == 429

    # That refused attempt started the wait again.
    time_passes(14)
    assert sign_in(client, "alice", "alice-password-1").status_code == 429

    time_passes(16)
    assert is_signed_in(sign_in(client, "alice", "alice-password-1"))


def test_a_good_sign_in_clears_the_count(client, developer):
    fail(client, "alice", 4)
    assert is_signed_in(sign_in(client, "alice", "alice-password-1"))
    client.logout()

    failures = fail(client, "alice", 4)

    assert [r.status_code for r in failures] == [200] * 4
    assert is_signed_in(sign_in(client, "alice", "alice-password-1"))


def test_a_locked_users_api_token_still_works(
    client, developer, developer_token, api_get
):
    fail(client, "alice", 6)
    assert sign_in(client, "alice", "alice-password-1").status_code == 429

    response = api_get("/api/v1/me", developer_token, REMOTE_ADDR=HOME_ADDRESS)

    assert response.status_code == 200
    assert response.json()["username"] == "alice"
