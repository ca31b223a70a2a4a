"""dchweb's own CA: stored in the `CertificateAuthority` table (its key
encrypted at rest), created on first use, rotated by an admin. The
certificates it issues are made by hosts/lib/x509.py."""

from cryptography import x509 as crypto_x509
from django.db import IntegrityError, transaction
from django.utils import timezone

from hosts.core import audit
from hosts.lib.x509 import fingerprint, new_ca_material
from hosts.models import AuditEvent, CertificateAuthority


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
