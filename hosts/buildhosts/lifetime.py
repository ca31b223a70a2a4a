"""How long a build host lives, besides its time to live: a heartbeat lease
that lapses (its holder, a CI job say, died) and the notice that its expiry
is near. Both run in the periodic pass (hosts/ops/tasks.py), so a lapsed
lease frees its host within the lease plus one reconciler interval."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from hosts.buildhosts.provisioning import mark_for_removal
from hosts.models import BuildHost, BuildHostStep
from hosts.notifications import outbox

logger = logging.getLogger(__name__)

LEASE_LAPSED = "its lease lapsed"
# A lease is held from the request on (hosts/buildhosts/commands.py): these
# hosts are, or are about to be, on their endpoint.
LEASED_STATES = (
    *BuildHost.WAITING_STATES,
    *BuildHost.RUNNING_STATES,
    BuildHost.State.STOPPED,
)
# Told of its coming expiry: a host someone may still want to extend.
EXPIRING_STATES = LEASED_STATES


# --- Heartbeat leases ----------------------------------------------------------------


def first_lease(lease_seconds, now) -> dict:
    """A host's first lease, as fields: it counts from the request (or the
    claim of a pool host), not from ready: a holder that dies while its host
    is provisioned frees it too. {} without a lease."""
    if lease_seconds is None:
        return {}
    return {
        "lease_seconds": lease_seconds,
        "lease_expires_at": now + timedelta(seconds=lease_seconds),
    }


def reap_lapsed_leases(now=None) -> list[str]:
    """Mark every host whose lease lapsed for removal (volumes by its
    policy), with a timeline step and an audit event that say why; returns
    their ids for the caller to remove."""
    now = now or timezone.now()
    lapsed = BuildHost.objects.filter(
        state__in=LEASED_STATES, lease_expires_at__lte=now
    ).values_list("pk", flat=True)
    return [str(pk) for pk in lapsed if _reap_if_lapsed(pk, now)]


def _reap_if_lapsed(pk, now) -> bool:
    with transaction.atomic():
        # Under the row's lock: a heartbeat that came in since the query wins.
        host = BuildHost.objects.select_for_update().get(pk=pk)
        if not _lapsed(host, now):
            return False
        host, marked = mark_for_removal(
            None,
            host,
            host.policy_deletes_volumes,
            action="build_host.lease_lapsed",
            reason=LEASE_LAPSED,
        )
        if marked:
            _record_lapse(host, now)
    if marked:
        logger.info("build host %s: %s, removing it", host.pk, LEASE_LAPSED)
    return marked


def _lapsed(host, now) -> bool:
    if host.state not in LEASED_STATES or not host.lease_seconds:
        return False
    if host.lease_expires_at is None or host.lease_expires_at > now:
        return False
    # Never within its first lease, whatever the clock of a stale row says.
    return host.created_at + timedelta(seconds=host.lease_seconds) <= now


def _record_lapse(host, now):
    renewed = host.lease_expires_at - timedelta(seconds=host.lease_seconds)
    step = BuildHostStep.objects.create(
        build_host=host, name="lease_lapsed", started_at=now
    )
    step.finish(
        BuildHostStep.Status.DONE,
        detail=(
            f"{LEASE_LAPSED}: no heartbeat since {renewed:%H:%M:%S} UTC "
            f"(lease {host.lease_seconds} s); removed by its volume policy"
        ),
    )


# --- Expiry notices ------------------------------------------------------------------


def notify_expiring(now=None) -> int:
    """Tell each owner once that their host expires within
    DCHWEB_EXPIRY_NOTICE_MINUTES (0: never); extending it asks again."""
    now = now or timezone.now()
    minutes = settings.DCHWEB_EXPIRY_NOTICE_MINUTES
    if minutes <= 0:
        return 0
    due = BuildHost.objects.filter(
        state__in=EXPIRING_STATES,
        # A free pool host is nobody's: no one to tell (it is recycled).
        owner__isnull=False,
        expiry_notified_at__isnull=True,
        expires_at__gt=now,
        expires_at__lte=now + timedelta(minutes=minutes),
    ).select_related("owner", "endpoint")
    return sum(1 for host in due if _notify_once(host, now))


def _notify_once(host, now) -> bool:
    with transaction.atomic():
        # Two passes at once: the one that sets the mark tells.
        claimed = BuildHost.objects.filter(
            pk=host.pk, expiry_notified_at__isnull=True
        ).update(expiry_notified_at=now)
        if claimed:
            outbox.emit("build_host.expiring", event_object(host), owner=host.owner)
    return bool(claimed)


def event_object(host) -> dict:
    """The host as an event carries it: as the API shows it, in short."""
    return {
        "id": str(host.pk),
        "name": host.name,
        "owner": host.owner.get_username(),
        "endpoint": host.endpoint.name,
        "state": host.state,
        "expires_at": host.expires_at.isoformat(),
        "lease_expires_at": (
            host.lease_expires_at.isoformat() if host.lease_expires_at else None
        ),
        "url": reverse("build_host", args=[host.pk]),
        "summary": (
            f"Build host {host.name} expires at {host.expires_at:%Y-%m-%d %H:%M} "
            "UTC unless it is extended"
        ),
    }
