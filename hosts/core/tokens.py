"""API tokens: `dchw_<prefix>_<secret>`. The prefix finds the row, the
SHA-256 of the whole token proves it; the plaintext is never stored."""

import hashlib
import hmac
import secrets
from datetime import UTC, timedelta

from django.utils import timezone

from hosts.core.errors import Forbidden, Unauthorized
from hosts.models import ApiToken

TOKEN_SCHEME = "dchw"
# Writing last_used_at on every call would turn each API read into a write
# (and a lock on SQLite); once a minute is precise enough to spot dead tokens.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh (plaintext, prefix)."""
    prefix = secrets.token_hex(4)
    return f"{TOKEN_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def prefix_of(token: str) -> str | None:
    scheme, _, rest = token.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != TOKEN_SCHEME or not prefix or not secret:
        return None
    return prefix


# What a read-only token may not do: every method that can change something.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def user_for_token(token: str):
    """The active user a live token belongs to, or None (unknown, revoked,
    expired, inactive): for callers with one answer to every bad token."""
    api_token = _live_token(token)
    if api_token is None or api_token.has_expired():
        return None
    _touch(api_token)
    return api_token.user


def authenticate(token: str, method: str):
    """The user of `token` for a request with HTTP `method`, or None for a
    token that is unknown, revoked or whose user is inactive. Raises
    Unauthorized when it expired and Forbidden when a read-only token asks
    to write: both are tokens the user made, so they are told what is wrong."""
    api_token = _live_token(token)
    if api_token is None:
        return None
    if api_token.has_expired():
        expired = api_token.expires_at.astimezone(UTC)
        raise Unauthorized(
            f"the token expired on {expired:%Y-%m-%d %H:%M} UTC: make a new one"
        )
    if api_token.read_only and method.upper() in WRITE_METHODS:
        raise Forbidden("this token is read-only")
    _touch(api_token)
    return api_token.user


def _live_token(token: str) -> ApiToken | None:
    """The token's row, unless revoked or its user is inactive; expiry is the
    callers' to judge (one refuses it silently, the other says so)."""
    prefix = prefix_of(token)
    if prefix is None:
        return None
    presented = hash_token(token)
    candidates = ApiToken.objects.select_related("user").filter(
        prefix=prefix, revoked_at__isnull=True, user__is_active=True
    )
    for api_token in candidates:
        if hmac.compare_digest(api_token.token_hash, presented):
            return api_token
    return None


def _touch(api_token: ApiToken) -> None:
    now = timezone.now()
    last = api_token.last_used_at
    if last is None or now - last >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=api_token.pk).update(last_used_at=now)
