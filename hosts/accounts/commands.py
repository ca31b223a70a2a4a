"""People and their API tokens: groups, the superuser, tokens made and revoked.
Views, the API, the CLI and the seeding call these; each records an audit
event in the same transaction as the change."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from hosts.core import audit, tokens
from hosts.core.errors import Conflict, Invalid, NotFound
from hosts.core.permissions import ADMINS_GROUP, DEVELOPERS_GROUP
from hosts.models import ApiToken

# A new token's life when none is asked for; never beyond the admins' maximum
# (settings.DCHWEB_API_TOKEN_MAX_DAYS).
DEFAULT_TOKEN_DAYS = 90
TOKEN_NAME_MAX_LENGTH = ApiToken._meta.get_field("name").max_length


@transaction.atomic
def create_api_token(
    user,
    name: str,
    *,
    actor,
    source: str | None = None,
    scope: str = ApiToken.Scope.WRITE,
    expires_days: int | None = None,
    expires_at=None,
    submission_key: str = "",
    request=None,
):
    """A new token for `user`, `scope` read or write, expiring after
    `expires_days` or at `expires_at` (default DEFAULT_TOKEN_DAYS, at most
    the maximum): returns (row, plaintext). Show the plaintext once; it
    cannot be recovered. Raises Invalid (name, scope, expires_days,
    expires_at) before anything is saved.

    `submission_key` (a page's one-time form key): a second call with the
    key of a token made already makes none and raises Conflict
    "already_made", as its secret was shown to the first."""
    name = _token_name(name)
    scope = _token_scope(scope)
    expires_at = _token_expiry(expires_days, expires_at)
    if submission_key and own_tokens(user).filter(submission_key=submission_key):
        raise _already_made()
    plaintext, prefix = tokens.new_token()
    try:
        with transaction.atomic():
            api_token = ApiToken.objects.create(
                user=user,
                name=name,
                scope=scope,
                expires_at=expires_at,
                prefix=prefix,
                token_hash=tokens.hash_token(plaintext),
                submission_key=submission_key,
            )
    except IntegrityError:
        # The same form, posted twice at once: the other post made it.
        raise _already_made() from None
    audit.record(
        actor,
        "api_token.created",
        api_token,
        {
            "user": user.get_username(),
            "name": name,
            "prefix": prefix,
            "scope": scope,
            "expires_at": expires_at.isoformat(),
        },
        source=source,
        request=request,
    )
    return api_token, plaintext


def _token_name(name) -> str:
    name = str(name or "").strip()
    if not name:
        raise Invalid("a token needs a name", "name")
    if len(name) > TOKEN_NAME_MAX_LENGTH:
        raise Invalid(
            f"the name is longer than {TOKEN_NAME_MAX_LENGTH} characters", "name"
        )
    return name


def _token_scope(scope) -> str:
    if scope not in ApiToken.Scope.values:
        raise Invalid(
            f"the scope must be one of {', '.join(ApiToken.Scope.values)}", "scope"
        )
    return scope


def _already_made() -> Conflict:
    return Conflict(
        "this form made its token already (its secret was shown then, once): "
        "if you did not copy it, revoke that token and make another",
        code="already_made",
    )


def _token_expiry(days, expires_at):
    """When a new token expires: `days` from now, or at `expires_at`, within
    the maximum days an admin allows."""
    if expires_at is None:
        return timezone.now() + timedelta(days=_token_days(days))
    if days is not None:
        raise Invalid("give expires_days or expires_at, not both", "expires_at")
    now = timezone.now()
    longest = settings.DCHWEB_API_TOKEN_MAX_DAYS
    if timezone.is_naive(expires_at):
        raise Invalid("expires_at needs a time zone (e.g. Z)", "expires_at")
    if not now < expires_at <= now + timedelta(days=longest):
        raise Invalid(
            f"a token expires within the next {longest} days (the maximum "
            "DCHWEB_API_TOKEN_MAX_DAYS)",
            "expires_at",
        )
    return expires_at


def _token_days(days) -> int:
    """The days a new token lives: as asked, else the default (shortened to
    the maximum when an admin set a smaller one)."""
    longest = settings.DCHWEB_API_TOKEN_MAX_DAYS
    if days is None:
        return min(DEFAULT_TOKEN_DAYS, longest)
    # bool is an int to Python, not to the person who sent `true`.
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= longest:
        raise Invalid(
            f"a token expires after 1 to {longest} days (the maximum "
            "DCHWEB_API_TOKEN_MAX_DAYS)",
            "expires_days",
        )
    return days


def own_tokens(user):
    """`user`'s tokens, revoked and expired ones too, newest first. Tokens are
    their owner's alone: admins see others' in the Django admin, not here."""
    return ApiToken.objects.filter(user=user)


def get_own_token(user, token_id) -> ApiToken:
    """One of `user`'s tokens; NotFound for another's as for a missing one
    (ids cannot be probed), and for an id that is not a number."""
    try:
        return own_tokens(user).get(pk=token_id)
    except (ApiToken.DoesNotExist, ValueError, TypeError):
        raise NotFound(f"no token with id {token_id}") from None


@transaction.atomic
def revoke_api_token(
    api_token: ApiToken, *, actor, source: str | None = None, request=None
):
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
