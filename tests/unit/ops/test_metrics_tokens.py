"""/metrics counts the API tokens that still open the API."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.accounts import commands as accounts
from hosts.ops.metrics import exposition

pytestmark = pytest.mark.django_db


def _active_tokens() -> float:
    line = next(
        line
        for line in exposition().splitlines()
        if line.startswith("dchweb_api_tokens_active ")
    )
    return float(line.split()[1])


def test_revoked_and_expired_tokens_are_not_counted(developer):
    accounts.create_api_token(developer, "live", actor=None, source="cli")
    revoked, _ = accounts.create_api_token(developer, "old", actor=None, source="cli")
    expired, _ = accounts.create_api_token(developer, "gone", actor=None, source="cli")
    assert _active_tokens() == 3

    accounts.revoke_api_token(revoked, actor=None, source="cli")
    expired.expires_at = timezone.now() - timedelta(seconds=1)
    expired.save(update_fields=["expires_at"])

    assert _active_tokens() == 1
