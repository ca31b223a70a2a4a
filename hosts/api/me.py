"""API v1: who the token belongs to."""

from ninja import Router

from hosts.api.schemas.accounts import MeOut
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
