"""API v1 operations: HTTP in and out only; the work is in hosts/accounts/commands.py."""

from ninja import Field, Query, Router, Schema, Status

from hosts.api.errors import MAX_OFFSET, ApiError, answering, forbidden, not_found
from hosts.api.schemas import (
    AuditEventPage,
    CertificateAuthorityOut,
    CertificateIn,
    CertificateOut,
    EndpointIn,
    EndpointOut,
    ErrorOut,
    MeOut,
    RegistryCheckOut,
    RegistryIn,
    RegistryOut,
)
from hosts.certificates import commands as certificates
from hosts.core import audit, pki
from hosts.core.permissions import is_admin
from hosts.endpoints import commands as endpoint_service
from hosts.models import Endpoint, Registry
from hosts.registries import commands as registry_service

router = Router()

ERRORS = {400: ErrorOut, 401: ErrorOut}
ADMIN_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut}


@router.get("/me", response={200: MeOut, **ERRORS}, summary="Who am I")
def me(request):
    user = request.auth
    return {
        "username": user.get_username(),
        "is_admin": is_admin(user),
        "groups": sorted(user.groups.values_list("name", flat=True)),
    }


@router.get("/endpoints", response={200: list[EndpointOut], **ERRORS})
def list_endpoints(request):
    return Endpoint.objects.all()


# --- Endpoints (hosts/endpoints/commands.py) -------------------------------------------


@router.post(
    "/endpoints",
    response={201: EndpointOut, 404: ErrorOut, 409: ErrorOut, **ADMIN_ERRORS},
    summary="Register an endpoint",
)
def create_endpoint(request, payload: EndpointIn):
    """Admins only. 400 `invalid_endpoint` says which setting is wrong; 404 for
    an unknown certificate id. The endpoint is probed once it is saved."""
    if not is_admin(request.auth):
        raise forbidden("only admins may register endpoints")
    with _endpoint_errors():
        endpoint = endpoint_service.create_endpoint(
            request.auth, payload.dict(), request=request
        )
    return Status(201, endpoint)


@router.get(
    "/endpoints/{endpoint_id}", response={200: EndpointOut, 404: ErrorOut, **ERRORS}
)
def get_endpoint(request, endpoint_id: int):
    return _endpoint_or_404(endpoint_id)


@router.put(
    "/endpoints/{endpoint_id}",
    response={200: EndpointOut, 404: ErrorOut, 409: ErrorOut, **ADMIN_ERRORS},
    summary="Change an endpoint",
)
def update_endpoint(request, endpoint_id: int, payload: EndpointIn):
    """Admins only. The same checks as registering; probed again once saved."""
    if not is_admin(request.auth):
        raise forbidden("only admins may change endpoints")
    endpoint = _endpoint_or_404(endpoint_id)
    with _endpoint_errors():
        return endpoint_service.update_endpoint(
            request.auth, endpoint, payload.dict(), request=request
        )


def _endpoint_errors():
    return answering(
        (endpoint_service.EndpointInvalid, 400, "invalid_endpoint"),
        (endpoint_service.CertificateNotFound, 404, None),
        (endpoint_service.EndpointNameTaken, 409, None),
    )


@router.post(
    "/endpoints/{endpoint_id}/probe",
    response={202: EndpointOut, 404: ErrorOut, 409: ErrorOut, **ADMIN_ERRORS},
    summary="Probe an endpoint now",
)
def probe_endpoint(request, endpoint_id: int):
    """Admins only. 202: the worker probes it; read the endpoint for the
    result. 409 when the endpoint is disabled."""
    if not is_admin(request.auth):
        raise forbidden("only admins may probe endpoints")
    endpoint = _endpoint_or_404(endpoint_id)
    if not endpoint_service.request_probe(request.auth, endpoint, request=request):
        raise ApiError(409, "the endpoint is disabled: enable it to probe it")
    return Status(202, endpoint)


@router.post(
    "/endpoints/{endpoint_id}/disable",
    response={200: EndpointOut, 404: ErrorOut, **ADMIN_ERRORS},
    summary="Disable an endpoint",
)
def disable_endpoint(request, endpoint_id: int):
    """Admins only. It stays disabled (probes skip it) until enabled."""
    return _set_disabled(request, endpoint_id, disabled=True)


@router.post(
    "/endpoints/{endpoint_id}/enable",
    response={200: EndpointOut, 404: ErrorOut, **ADMIN_ERRORS},
    summary="Enable an endpoint",
)
def enable_endpoint(request, endpoint_id: int):
    """Admins only. Health is `off` until the probe, enqueued now, answers."""
    return _set_disabled(request, endpoint_id, disabled=False)


def _set_disabled(request, endpoint_id, *, disabled):
    if not is_admin(request.auth):
        raise forbidden("only admins may disable or enable endpoints")
    endpoint = _endpoint_or_404(endpoint_id)
    return endpoint_service.set_endpoint_disabled(
        request.auth, endpoint, disabled, request=request
    )


def _endpoint_or_404(endpoint_id):
    endpoint = Endpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        raise not_found(f"no endpoint with id {endpoint_id}")
    return endpoint


@router.get("/registries", response={200: list[RegistryOut], **ERRORS})
def list_registries(request):
    return Registry.objects.all()


@router.post(
    "/registries",
    response={201: RegistryOut, 409: ErrorOut, **ADMIN_ERRORS},
    summary="Add a registry",
)
def create_registry(request, payload: RegistryIn):
    """Admins only. The password is stored encrypted and never returned."""
    if not is_admin(request.auth):
        raise forbidden("only admins may add registries")
    with answering(
        (registry_service.RegistryInvalid, 400, "invalid_registry"),
        (registry_service.RegistryExists, 409, None),
    ):
        registry = registry_service.create_registry(
            request.auth, **payload.dict(), request=request
        )
    return Status(201, registry)


@router.get(
    "/registries/{registry_id}", response={200: RegistryOut, 404: ErrorOut, **ERRORS}
)
def get_registry(request, registry_id: int):
    return _registry_or_404(registry_id)


@router.post(
    "/registries/{registry_id}/check",
    response={200: RegistryCheckOut, 404: ErrorOut, **ADMIN_ERRORS},
    summary="Check a registry now",
)
def check_registry(request, registry_id: int):
    """Admins only. Reaches https://<address>/v2/ with the registry's CA and
    logs in; `reason` names what failed (login_refused, unknown_authority, ...)."""
    if not is_admin(request.auth):
        raise forbidden("only admins may check registries")
    registry = _registry_or_404(registry_id)
    registry = registry_service.check_registry(
        registry.pk, request.auth, source=None, request=request
    )
    return {
        **registry.check_result.as_dict(),
        "checked_at": registry.last_check_at,
        "registry": registry,
    }


def _registry_or_404(registry_id):
    registry = Registry.objects.filter(pk=registry_id).first()
    if registry is None:
        raise not_found(f"no registry with id {registry_id}")
    return registry


@router.get("/certificates", response={200: list[CertificateOut], **ERRORS})
def list_certificates(request):
    """Every certificate, without private keys; with expiry warnings."""
    return certificates.certificates()


@router.post(
    "/certificates",
    response={201: CertificateOut, 409: ErrorOut, **ADMIN_ERRORS},
    summary="Upload a certificate",
)
def create_certificate(request, payload: CertificateIn):
    """Admins only. 400 `invalid_certificate` says what is wrong with the PEM
    or key; nothing is saved then."""
    if not is_admin(request.auth):
        raise forbidden("only admins may add certificates")
    with answering(
        (certificates.CertificateInvalid, 400, "invalid_certificate"),
        (certificates.CertificateNameTaken, 409, None),
    ):
        certificate = certificates.create_certificate(
            request.auth,
            payload.name,
            payload.pem,
            payload.private_key_pem,
            request=request,
        )
    return Status(201, certificate)


class AuditFilters(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)
    action: str = Field("", description="action prefix, e.g. `registry.`")
    actor: str = Field("", description="username")


@router.get(
    "/certificate-authority",
    response={200: CertificateAuthorityOut, **ERRORS},
    summary="dchweb's own CA",
)
def get_certificate_authority(request):
    """The active CA that issues build hosts' certificates (created on first use)."""
    return pki.load_or_create_ca(source="api")


@router.post(
    "/certificate-authority/rotate",
    response={201: CertificateAuthorityOut, **ADMIN_ERRORS},
    summary="Rotate dchweb's CA",
)
def rotate_certificate_authority(request):
    """Admins only. A new active CA; the old one is kept, inactive."""
    if not is_admin(request.auth):
        raise forbidden("only admins may rotate dchweb's CA")
    return Status(201, pki.rotate_ca(request.auth, request=request))


@router.get("/audit-events", response={200: AuditEventPage, **ADMIN_ERRORS})
def list_audit_events(request, filters: Query[AuditFilters]):
    """Admins only. Newest first."""
    if not is_admin(request.auth):
        raise forbidden("the audit trail is for admins")
    events = audit.audit_events(action=filters.action, actor=filters.actor)
    page = events[filters.offset : filters.offset + filters.limit]
    return {
        "count": events.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": list(page),
    }
