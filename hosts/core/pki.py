"""dchweb's CAs. Each build host has its own CA (made when it is
provisioned, hosts/buildhosts/provisioning.py), so a TLS bundle opens that
host and no other; `trusted_cas` lists those and the registries' CAs the
hosts trust. The installation CA in the `CertificateAuthority` table (its
key encrypted at rest) is made on first use of the API that serves it and
rotated by an admin; no build host's certificate comes from it. The
certificates are made by hosts/lib/x509.py."""

from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509 as crypto_x509
from django.db import IntegrityError, transaction
from django.utils import timezone

from hosts.core import audit, permissions
from hosts.lib.x509 import (
    expires_in_days,
    expiry_warning,
    fingerprint,
    new_ca_material,
)
from hosts.models import AuditEvent, BuildHost, CertificateAuthority, Registry


def load_or_create_ca(*, source: str = AuditEvent.Source.TASK) -> CertificateAuthority:
    """The active CA, created on first use. Two processes racing here end up
    with one CA: the loser's insert hits the one-active-CA constraint and it
    reads the winner's."""
    ca = CertificateAuthority.objects.filter(active=True).first()
    if ca is not None:
        return ca
    cert_pem, key_pem = new_ca_material(timezone.now())
    try:
        with transaction.atomic():
            ca = _store_ca(cert_pem, key_pem)
            audit.record(
                None, "ca.created", ca, {"fingerprint": ca.fingerprint}, source=source
            )
    except IntegrityError:
        ca = CertificateAuthority.objects.get(active=True)
    return ca


def _store_ca(cert_pem: str, key_pem: str) -> CertificateAuthority:
    ca = CertificateAuthority(cert_pem=cert_pem, active=True)
    ca.fingerprint = fingerprint(
        crypto_x509.load_pem_x509_certificate(cert_pem.encode())
    )
    ca.set_private_key(key_pem)
    ca.save()
    return ca


def rotate_ca(actor, *, source: str | None = None, request=None):
    """A new active CA; the old one stays, inactive. Certificates it issued
    keep working until their hosts are given new ones."""
    cert_pem, key_pem = new_ca_material(timezone.now())
    with transaction.atomic():
        old = list(CertificateAuthority.objects.select_for_update().filter(active=True))
        CertificateAuthority.objects.filter(pk__in=[ca.pk for ca in old]).update(
            active=False, retired_at=timezone.now()
        )
        new = _store_ca(cert_pem, key_pem)
        audit.record(
            actor,
            "ca.rotated",
            new,
            {
                "fingerprint": new.fingerprint,
                "previous": [ca.fingerprint for ca in old],
            },
            source=source,
            request=request,
        )
    return new


# --- The CAs build hosts trust ----------------------------------------------------


@dataclass(frozen=True)
class TrustedCa:
    """One CA as the certificates page lists it."""

    name: str  # the build host's or the registry's
    subject: str
    fingerprint: str
    not_after: datetime
    warning: str | None  # hosts/lib/x509.py, expiry_warning
    days: int
    address: str = ""  # a registry's
    trusted_by: list = field(default_factory=list)  # build host names


@dataclass(frozen=True)
class TrustedCas:
    build_hosts: list  # [TrustedCa]: each host's own CA
    registries: list  # [TrustedCa]: the registry CAs those hosts trust


def trusted_cas(user) -> TrustedCas:
    """The CAs of the build hosts `user` may see (their own; admins all)
    that are there or on their way, and the registries' CAs they trust."""
    hosts = list(
        permissions.visible_to(user, BuildHost.objects.all())
        .filter(state__in=BuildHost.HELD_STATES)
        .exclude(ca_pem="")
        .prefetch_related("registries")
        .order_by("name")
    )
    own = [_trusted(host.ca_pem, str(host)) for host in hosts]
    trusting: dict[int, list[str]] = {}
    for host in hosts:
        for registry in host.registries.all():
            trusting.setdefault(registry.pk, []).append(str(host))
    registries = [
        _trusted(
            registry.ca_pem,
            registry.name,
            address=registry.address,
            trusted_by=sorted(trusting[registry.pk]),
        )
        for registry in Registry.objects.filter(pk__in=trusting).exclude(ca_pem="")
    ]
    return TrustedCas(
        build_hosts=[ca for ca in own if ca is not None],
        registries=[ca for ca in registries if ca is not None],
    )


def _trusted(pem, name, **more) -> TrustedCa | None:
    """The first certificate of `pem` as a row; None when unreadable."""
    try:
        cert = crypto_x509.load_pem_x509_certificate(pem.encode())
    except ValueError:
        return None
    not_after = cert.not_valid_after_utc
    return TrustedCa(
        name=name,
        subject=cert.subject.rfc4514_string(),
        fingerprint=fingerprint(cert),
        not_after=not_after,
        warning=expiry_warning(not_after),
        days=expires_in_days(not_after),
        **more,
    )
