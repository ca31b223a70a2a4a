"""API v1 certificates and dchweb's own CA: HTTP in and out; the work is in
hosts/certificates/commands.py and hosts/core/pki.py."""

from ninja import Router, Status

from hosts.api.auth import BearerToken, admin_only
from hosts.api.schemas.certificates import (
    CertificateAuthorityOut,
    CertificateIn,
    CertificateOut,
)
from hosts.api.schemas.common import errors
from hosts.certificates import commands as certificates
from hosts.core import pki

router = Router(tags=["certificates"])


@router.get("/certificates", response={200: list[CertificateOut], **errors(400, 401)})
def list_certificates(request):
    """Every certificate, without private keys; with expiry warnings."""
    return certificates.certificates()


@router.post(
    "/certificates",
    response={201: CertificateOut, **errors(400, 401, 403, 409)},
    summary="Upload a certificate",
    auth=BearerToken(admin_only("only admins may add certificates")),
)
def create_certificate(request, payload: CertificateIn):
    """Admins only. 400 `invalid_certificate` says what is wrong with the PEM
    or key; nothing is saved then."""
    certificate = certificates.create_certificate(
        request.auth,
        payload.name,
        payload.pem,
        payload.private_key_pem,
        request=request,
    )
    return Status(201, certificate)


@router.get(
    "/certificate-authority",
    response={200: CertificateAuthorityOut, **errors(400, 401)},
    summary="dchweb's own CA",
)
def get_certificate_authority(request):
    """The active CA that issues build hosts' certificates (created on first use)."""
    return pki.load_or_create_ca(source="api")


@router.post(
    "/certificate-authority/rotate",
    response={201: CertificateAuthorityOut, **errors(400, 401, 403)},
    summary="Rotate dchweb's CA",
    auth=BearerToken(admin_only("only admins may rotate dchweb's CA")),
)
def rotate_certificate_authority(request):
    """Admins only. A new active CA; the old one is kept, inactive."""
    return Status(201, pki.rotate_ca(request.auth, request=request))
