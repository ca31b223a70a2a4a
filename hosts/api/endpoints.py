"""API v1 endpoints: HTTP in and out; the work is in hosts/endpoints/commands.py."""

from ninja import Router, Status

from hosts.api.auth import BearerToken, admin_only
from hosts.api.lookups import get_or_404
from hosts.api.schemas.common import errors
from hosts.api.schemas.endpoints import EndpointIn, EndpointOut, EndpointPatch
from hosts.buildhosts import pool
from hosts.core.errors import Conflict
from hosts.endpoints import commands as endpoints
from hosts.models import Endpoint

router = Router(tags=["endpoints"])

# Checked before the body is read (hosts/api/auth.py).
ADMINS = BearerToken(admin_only("only admins may manage endpoints"))


@router.get("/endpoints", response={200: list[EndpointOut], **errors(400, 401)})
def list_endpoints(request):
    return pool.with_ready_counts(Endpoint.objects.all())


@router.post(
    "/endpoints",
    response={201: EndpointOut, **errors(400, 401, 403, 404, 409)},
    summary="Register an endpoint",
    auth=ADMINS,
)
def create_endpoint(request, payload: EndpointIn):
    """Admins only. 400 `invalid_endpoint` says which setting is wrong; 404 for
    an unknown certificate id. The endpoint is probed once it is saved."""
    endpoint = endpoints.create_endpoint(request.auth, payload.dict(), request=request)
    return Status(201, endpoint)


@router.get(
    "/endpoints/{endpoint_id}", response={200: EndpointOut, **errors(400, 401, 404)}
)
def get_endpoint(request, endpoint_id: int):
    return _endpoint_or_404(endpoint_id)


@router.put(
    "/endpoints/{endpoint_id}",
    response={200: EndpointOut, **errors(400, 401, 403, 404, 409)},
    summary="Change an endpoint",
    auth=ADMINS,
)
def update_endpoint(request, endpoint_id: int, payload: EndpointIn):
    """Admins only. The same checks as registering; probed again once saved."""
    endpoint = _endpoint_or_404(endpoint_id)
    return endpoints.update_endpoint(
        request.auth, endpoint, payload.dict(), request=request
    )


@router.patch(
    "/endpoints/{endpoint_id}",
    response={200: EndpointOut, **errors(400, 401, 403, 404, 409)},
    summary="Change some of an endpoint's settings",
    auth=ADMINS,
)
def patch_endpoint(request, endpoint_id: int, payload: EndpointPatch):
    """Admins only. Only the settings given change, with the same checks;
    `pool_size` (0 = no pool, at most `max_build_hosts`) sets the warm
    pool, refilled or shrunk at once."""
    endpoint = _endpoint_or_404(endpoint_id)
    return endpoints.patch_endpoint(
        request.auth, endpoint, payload.dict(exclude_unset=True), request=request
    )


@router.post(
    "/endpoints/{endpoint_id}/probe",
    response={202: EndpointOut, **errors(400, 401, 403, 404, 409)},
    summary="Probe an endpoint now",
    auth=ADMINS,
)
def probe_endpoint(request, endpoint_id: int):
    """Admins only. 202: the worker probes it; read the endpoint for the
    result. 409 when the endpoint is disabled."""
    endpoint = _endpoint_or_404(endpoint_id)
    if not endpoints.request_probe(request.auth, endpoint, request=request):
        raise Conflict("the endpoint is disabled: enable it to probe it")
    return Status(202, endpoint)


@router.post(
    "/endpoints/{endpoint_id}/disable",
    response={200: EndpointOut, **errors(400, 401, 403, 404)},
    summary="Disable an endpoint",
    auth=ADMINS,
)
def disable_endpoint(request, endpoint_id: int):
    """Admins only. It stays disabled (probes skip it) until enabled."""
    return _set_disabled(request, endpoint_id, disabled=True)


@router.post(
    "/endpoints/{endpoint_id}/enable",
    response={200: EndpointOut, **errors(400, 401, 403, 404)},
    summary="Enable an endpoint",
    auth=ADMINS,
)
def enable_endpoint(request, endpoint_id: int):
    """Admins only. Health is `off` until the probe, enqueued now, answers."""
    return _set_disabled(request, endpoint_id, disabled=False)


def _set_disabled(request, endpoint_id, *, disabled):
    endpoint = _endpoint_or_404(endpoint_id)
    return endpoints.set_endpoint_disabled(
        request.auth, endpoint, disabled, request=request
    )


def _endpoint_or_404(endpoint_id):
    return get_or_404(Endpoint, endpoint_id, f"no endpoint with id {endpoint_id}")
