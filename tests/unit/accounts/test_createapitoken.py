"""createapitoken: a token for a user, from the command line."""

import hashlib

import pytest
from django.core.management.base import CommandError

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
