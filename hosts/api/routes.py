"""API v1 operations: HTTP in and out only; the work is in hosts/services.py."""

from ninja import Field, Query, Router, Schema, Status

from hosts import certificates, services
from hosts.api.errors import ApiError, forbidden
from hosts.api.schemas import (
    AuditEventPage,
    CertificateIn,
    CertificateOut,
    EndpointOut,
    ErrorOut,
    MeOut,
    RegistryOut,
)
from hosts.models import Endpoint, Registry
from hosts.permissions import is_admin

router = Router()

ERRORS = {401: ErrorOut}
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


@router.get("/registries", response={200: list[RegistryOut], **ERRORS})
def list_registries(request):
    return Registry.objects.all()


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
    try:
        certificate = certificates.create_certificate(
            request.auth,
            payload.name,
            payload.pem,
            payload.private_key_pem,
            request=request,
        )
    except certificates.CertificateInvalid as error:
        raise ApiError(400, error.message, code="invalid_certificate") from None
    except certificates.CertificateNameTaken as error:
        raise ApiError(409, str(error)) from None
    return Status(201, certificate)


class AuditFilters(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0)
    action: str = Field("", description="action prefix, e.g. `registry.`")
    actor: str = Field("", description="username")


@router.get("/audit-events", response={200: AuditEventPage, **ADMIN_ERRORS})
def list_audit_events(request, filters: Query[AuditFilters]):
    """Admins only. Newest first."""
    if not is_admin(request.auth):
        raise forbidden("the audit trail is for admins")
    events = services.audit_events(action=filters.action, actor=filters.actor)
    page = events[filters.offset : filters.offset + filters.limit]
    return {
        "count": events.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": list(page),
    }
