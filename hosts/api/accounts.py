"""API v1 accounts: who the token belongs to, and their own API tokens
(design.md §4.4); the work is in hosts/accounts/commands.py."""

from ninja import Router, Status

from hosts.accounts import commands as accounts
from hosts.api.auth import BearerToken, visible
from hosts.api.schemas.accounts import (
    ApiTokenCreatedOut,
    ApiTokenIn,
    ApiTokenOut,
    MeOut,
)
from hosts.api.schemas.common import errors
from hosts.core.permissions import is_admin

router = Router(tags=["accounts"])


@router.get("/me", response={200: MeOut, **errors(400, 401)}, summary="Who am I")
def me(request):
    user = request.auth
    return {
        "username": user.get_username(),
        "is_admin": is_admin(user),
        "groups": sorted(user.groups.values_list("name", flat=True)),
    }


@router.get(
    "/tokens",
    response={200: list[ApiTokenOut], **errors(400, 401)},
    summary="My tokens",
)
def list_tokens(request):
    """Yours only (admins too: others' are in the Django admin), revoked and
    expired ones included, newest first."""
    return accounts.own_tokens(request.auth)


@router.post(
    "/tokens",
    response={201: ApiTokenCreatedOut, **errors(400, 401, 403)},
    summary="Make a token",
)
def create_token(request, payload: ApiTokenIn):
    """201 with `token`, the secret, shown this once. It expires after
    `expires_days` or at `expires_at` (default 90 days). A read-only token
    cannot make tokens (403)."""
    api_token, plaintext = accounts.create_api_token(
        request.auth,
        payload.name,
        actor=request.auth,
        scope=payload.scope,
        expires_days=payload.expires_days,
        expires_at=payload.expires_at,
        request=request,
    )
    api_token.token = plaintext
    return Status(201, api_token)


@router.delete(
    "/tokens/{token_id}",
    response={200: ApiTokenOut, **errors(400, 401, 403, 404)},
    summary="Revoke a token",
    auth=BearerToken(visible("token_id", accounts.get_own_token)),
)
def revoke_token(request, token_id: int):
    """Revoked at once, the token this request came with too; the row stays
    (listed as revoked) for the audit trail. Another's token: 404."""
    api_token = accounts.get_own_token(request.auth, token_id)
    return accounts.revoke_api_token(api_token, actor=request.auth, request=request)
