"""Certificates that end soon, told to the admins (worker side, periodic).

An uploaded certificate whose `not_after` falls within
DCHWEB_CERT_EXPIRY_NOTICE_DAYS is announced once: the outbox itself is the
memory (a `certificate.expiring` notification naming its id and
fingerprint), so a renewed certificate uploaded under the same name, with
another fingerprint, is announced again when its own time comes.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hosts.models import Certificate, Notification
from hosts.notifications import outbox, payloads

EVENT = Notification.Event.CERTIFICATE_EXPIRING


def announce_expiring(now=None) -> list[int]:
    """Emit `certificate.expiring` for every certificate entering its notice
    window, once each; the ids announced now."""
    now = now or timezone.now()
    horizon = now + timedelta(days=settings.DCHWEB_CERT_EXPIRY_NOTICE_DAYS)
    announced = []
    for certificate in Certificate.objects.filter(not_after__lte=horizon):
        with transaction.atomic():
            if _announced_before(certificate):
                continue
            days_left = max((certificate.not_after - now).days, 0)
            outbox.emit(EVENT, payloads.certificate(EVENT, certificate, days_left))
            announced.append(certificate.pk)
    return announced


def _announced_before(certificate) -> bool:
    return Notification.objects.filter(
        event=EVENT,
        object__id=certificate.pk,
        object__fingerprint=certificate.fingerprint,
    ).exists()
