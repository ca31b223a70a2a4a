"""createapitoken: a token for a user, from the command line."""

import hashlib
from datetime import timedelta

import pytest
from django.core.management.base import CommandError
from django.utils import timezone

from hosts.models import ApiToken, AuditEvent
from tests.support.commands import run

pytestmark = pytest.mark.django_db


def test_createapitoken_prints_a_token_that_works_and_stores_only_its_hash(
    developer, client
):
    out, _ = run("createapitoken", "alice", "--name", "ci")
    token = out.strip()

    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200
    assert response.json()["username"] == "alice"
    stored = ApiToken.objects.get(user=developer)
    assert stored.name == "ci"
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {stored.prefix, stored.token_hash, stored.name}
    assert token.split("_")[1] == stored.prefix


def test_createapitoken_is_audited_as_cli(developer):
    run("createapitoken", "alice")

    event = AuditEvent.objects.get(action="api_token.created")
    assert event.source == "cli"
    assert event.details["user"] == "alice"


def test_createapitoken_for_an_unknown_user_fails_clearly():
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        run("createapitoken", "nobody")


def test_a_token_is_write_and_lives_90_days_unless_asked(developer):
    before = timezone.now()

    run("createapitoken", "alice")

    stored = ApiToken.objects.get()
    assert stored.scope == "write"
    assert before + timedelta(days=90) <= stored.expires_at
    assert stored.expires_at <= timezone.now() + timedelta(days=90)


def test_scope_and_days_are_taken_and_said(developer):
    _, err = run("createapitoken", "alice", "--scope", "read", "--expires-days", "7")

    stored = ApiToken.objects.get()
    assert stored.scope == "read"
    lifetime = stored.expires_at - stored.created_at
    assert abs(lifetime - timedelta(days=7)) < timedelta(minutes=1)
    assert "read" in err
    assert f"expires {stored.expires_at:%Y-%m-%d}" in err


def test_the_maximum_is_the_admins_setting(developer, settings):
    settings.DCHWEB_API_TOKEN_MAX_DAYS = 30

    with pytest.raises(CommandError, match="1 to 30 days"):
        run("createapitoken", "alice", "--expires-days", "31")
    run("createapitoken", "alice", "--expires-days", "30")

    assert ApiToken.objects.count() == 1


def test_the_default_is_shortened_to_a_smaller_maximum(developer, settings):
    settings.DCHWEB_API_TOKEN_MAX_DAYS = 30

    run("createapitoken", "alice")

    assert ApiToken.objects.get().expires_at <= timezone.now() + timedelta(days=30)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--expires-days", "0"), "1 to 365 days"),
        (("--expires-days", "-5"), "1 to 365 days"),
        (("--expires-days", "366"), "1 to 365 days"),
        (("--expires-days", "soon"), "invalid int value: 'soon'"),
        (("--scope", "admin"), "invalid choice: 'admin'"),
        (("--name", "  "), "a token needs a name"),
        (("--name", "x" * 101), "longer than 100 characters"),
    ],
)
def test_bad_values_are_a_clear_command_error_and_nothing_is_saved(
    developer, args, words
):
    with pytest.raises(CommandError, match=words):
        run("createapitoken", "alice", *args)

    assert not ApiToken.objects.exists()
    assert not AuditEvent.objects.exists()
