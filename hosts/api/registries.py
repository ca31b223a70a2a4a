"""API v1 registries: HTTP in and out; the work is in hosts/registries/commands.py."""

from ninja import Router, Status

from hosts.api.auth import BearerToken, admin_only
from hosts.api.lookups import get_or_404
from hosts.api.schemas.common import errors
from hosts.api.schemas.registries import RegistryCheckOut, RegistryIn, RegistryOut
from hosts.models import Registry
from hosts.registries import commands as registries

router = Router(tags=["registries"])

# Checked before the body is read (hosts/api/auth.py).
ADMINS = BearerToken(admin_only("only admins may add or check registries"))


@router.get("/registries", response={200: list[RegistryOut], **errors(400, 401)})
def list_registries(request):
    return Registry.objects.all()


@router.post(
    "/registries",
    response={201: RegistryOut, **errors(400, 401, 403, 409)},
    summary="Add a registry",
    auth=ADMINS,
)
def create_registry(request, payload: RegistryIn):
    """Admins only. The password is stored encrypted and never returned."""
    registry = registries.create_registry(
        request.auth, **payload.dict(), request=request
    )
    return Status(201, registry)


@router.get(
    "/registries/{registry_id}", response={200: RegistryOut, **errors(400, 401, 404)}
)
def get_registry(request, registry_id: int):
    return _registry_or_404(registry_id)


@router.post(
    "/registries/{registry_id}/check",
    response={200: RegistryCheckOut, **errors(400, 401, 403, 404)},
    summary="Check a registry now",
    auth=ADMINS,
)
def check_registry(request, registry_id: int):
    """Admins only. Reaches https://<address>/v2/ with the registry's CA and
    logs in; `reason` names what failed (login_refused, unknown_authority, ...)."""
    registry = _registry_or_404(registry_id)
    registry = registries.check_registry(
        registry.pk, request.auth, source=None, request=request
    )
    return {
        **registry.check_result.as_dict(),
        "checked_at": registry.last_check_at,
        "registry": registry,
    }


def _registry_or_404(registry_id):
    return get_or_404(Registry, registry_id, f"no registry with id {registry_id}")
