"""Certificate use cases: views, the API and commands call these.

Everything is checked before anything is saved (hosts/lib/x509.py parses the PEM
and the key), so a rejected upload leaves no row and no audit event.
"""

from cryptography.x509 import load_pem_x509_certificate
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, Q

from hosts.core import audit
from hosts.core.errors import Conflict, Invalid
from hosts.lib import x509
from hosts.models import Certificate, Endpoint, Registry

__all__ = [
    "CertificateInUse",
    "CertificateInvalid",
    "CertificateNameTaken",
    "create_certificate",
    "delete_certificate",
    "uses_of",
]

NAME_MAX_LENGTH = Certificate._meta.get_field("name").max_length


class CertificateInvalid(Invalid, x509.CertificateInvalid):
    """A name, PEM or key dchweb will not store (400 `invalid_certificate`).
    The parser (hosts/lib, which cannot know core's errors) raises its own
    CertificateInvalid; this one is both, so callers may catch either."""

    code = "invalid_certificate"


class CertificateNameTaken(Conflict):
    """Another certificate already has this name."""

    def __init__(self, name: str):
        super().__init__(f"a certificate named {name!r} already exists")
        self.name = name


class CertificateInUse(Conflict):
    """Something (an endpoint, a registry) still uses this certificate."""

    def __init__(self, certificate, users):
        names = ", ".join(sorted({_named(user) for user in users})) or "another object"
        super().__init__(
            f"certificate {certificate.name!r} is in use by {names}",
            code="certificate_in_use",
        )


def _named(user) -> str:
    """ "endpoint alpha", "registry registry.test:5443": what uses it, in words."""
    if isinstance(user, Endpoint):
        return f"endpoint {user.name}"
    if isinstance(user, Registry):
        return f"registry {user.name} (it trusts it as its CA)"
    return str(user)


def create_certificate(
    actor,
    name: str,
    pem: str,
    private_key_pem: str | None = None,
    *,
    source: str | None = None,
    request=None,
) -> Certificate:
    """Parse, check and store a certificate; audited as `certificate.create`.

    Raises CertificateInvalid (bad name, PEM or key) or CertificateNameTaken.
    """
    name = (name or "").strip()
    if not name:
        raise CertificateInvalid("a name is required")
    if len(name) > NAME_MAX_LENGTH:
        raise CertificateInvalid(
            f"the name is longer than {NAME_MAX_LENGTH} characters"
        )
    try:
        parsed = x509.parse_certificate_bundle(pem or "", private_key_pem)
    except x509.CertificateInvalid as error:
        raise CertificateInvalid(error.message) from None
    if Certificate.objects.filter(name=name).exists():
        raise CertificateNameTaken(name)
    certificate = Certificate(
        name=name,
        pem=parsed.pem,
        subject=parsed.subject,
        issuer=parsed.issuer,
        sans=parsed.sans,
        not_before=parsed.not_before,
        not_after=parsed.not_after,
        fingerprint=parsed.fingerprint,
        kind=parsed.kind,
        is_ca=parsed.is_ca,
        chain_length=parsed.chain_length,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    certificate.set_private_key(parsed.private_key_pem)
    try:
        with transaction.atomic():
            certificate.save()
            audit.record(
                actor,
                "certificate.create",
                certificate,
                {
                    "fingerprint": parsed.fingerprint,
                    "subject": parsed.subject,
                    "kind": parsed.kind,
                    "has_private_key": certificate.has_private_key,
                },
                source=source,
                request=request,
            )
    except IntegrityError:
        # Lost a race with another upload of the same name.
        raise CertificateNameTaken(name) from None
    return certificate


def delete_certificate(
    actor, certificate: Certificate, *, source: str | None = None, request=None
) -> None:
    """Delete and audit `certificate.delete`; CertificateInUse (and nothing
    deleted or audited) while something still refers to it."""
    details = {"fingerprint": certificate.fingerprint, "name": certificate.name}
    trusting = registries_trusting(certificate)
    if trusting:
        # A registry holds its CA as PEM text, not as a reference: no
        # database rule protects it, so this check does.
        raise CertificateInUse(certificate, trusting)
    try:
        with transaction.atomic():
            audit.record(
                actor,
                "certificate.delete",
                certificate,
                details,
                source=source,
                request=request,
            )
            certificate.delete()
    except ProtectedError as error:
        raise CertificateInUse(certificate, error.protected_objects) from None


def uses_of(certificate) -> list[str]:
    """What still uses the certificate, in words: endpoints that present or
    verify with it, registries that trust it as their CA."""
    endpoints = Endpoint.objects.filter(
        Q(ca_certificate=certificate) | Q(client_certificate=certificate)
    )
    users = [*endpoints, *registries_trusting(certificate)]
    return sorted({_named(user) for user in users})


def registries_trusting(certificate) -> list[Registry]:
    """Registries whose CA bundle holds this certificate (by fingerprint)."""
    return [
        registry
        for registry in Registry.objects.exclude(ca_pem="")
        if certificate.fingerprint in _fingerprints(registry.ca_pem)
    ]


def _fingerprints(pem: str) -> set[str]:
    found = set()
    for block in pem.split("-----END CERTIFICATE-----"):
        if "-----BEGIN CERTIFICATE-----" not in block:
            continue
        text = block[block.index("-----BEGIN CERTIFICATE-----") :]
        try:
            cert = load_pem_x509_certificate(
                f"{text}-----END CERTIFICATE-----\n".encode()
            )
        except ValueError:
            continue
        found.add(x509.fingerprint(cert))
    return found


def certificates():
    return Certificate.objects.select_related("created_by")
