"""People and their API tokens: groups, the superuser, tokens made and revoked.
Views, the API, the CLI and the seeding call these; each records an audit
event in the same transaction as the change."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from hosts.core import audit, tokens
from hosts.core.permissions import ADMINS_GROUP, DEVELOPERS_GROUP
from hosts.models import ApiToken


@transaction.atomic
def create_api_token(user, name: str, *, actor, source: str, request=None):
    """A new token for `user`: returns (row, plaintext). Show the plaintext
    once; it cannot be recovered."""
    plaintext, prefix = tokens.new_token()
    api_token = ApiToken.objects.create(
        user=user, name=name, prefix=prefix, token_hash=tokens.hash_token(plaintext)
    )
    audit.record(
        actor,
        "api_token.created",
        api_token,
        {"user": user.get_username(), "name": name, "prefix": prefix},
        source=source,
        request=request,
    )
    return api_token, plaintext


@transaction.atomic
def revoke_api_token(api_token: ApiToken, *, actor, source: str, request=None):
    if api_token.revoked_at is not None:
        return api_token
    api_token.revoked_at = timezone.now()
    api_token.save(update_fields=["revoked_at"])
    audit.record(actor, "api_token.revoked", api_token, source=source, request=request)
    return api_token


def ensure_groups() -> list[str]:
    created = []
    for name in (DEVELOPERS_GROUP, ADMINS_GROUP):
        _, was_created = Group.objects.get_or_create(name=name)
        if was_created:
            created.append(f"group {name}")
    return created


def ensure_superuser(username: str, password: str | None, *, source: str):
    """Create the superuser once; an existing one is left as it is (its
    password too). Returns (user, password or None when not created)."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, None
    password = password or secrets.token_urlsafe(12)
    user = User.objects.create_superuser(username=username, password=password)
    user.groups.add(Group.objects.get(name=ADMINS_GROUP))
    audit.record(None, "user.created", user, {"superuser": True}, source=source)
    return user, password
