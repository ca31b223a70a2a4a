"""Leases: which worker process works on a row (a build host, a build).

A lease is two columns, `lease_owner` and `lease_until`, taken with one
conditional UPDATE, so two workers never both hold it. A worker that dies
leaves a lease that expires; a restarted worker frees its previous life's
leases at once (it knows that process is gone).
"""

import os
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

DEFAULT_DURATION = timedelta(minutes=10)


def worker_identity(node_name: str) -> str:
    """Lease owner: the Celery node plus the process (a node has several)."""
    return f"{node_name}:{os.getpid()}"


def take(model, pk, worker: str, duration=DEFAULT_DURATION) -> bool:
    """Take (or renew) the lease on one row; False if another holds it."""
    now = timezone.now()
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now) | Q(lease_owner=worker)
    taken = model.objects.filter(free, pk=pk).update(
        lease_owner=worker, lease_until=now + duration
    )
    return taken == 1


def release(model, pk, worker: str) -> None:
    model.objects.filter(pk=pk, lease_owner=worker).update(
        lease_owner="", lease_until=None
    )


def release_node(model, node_name: str) -> int:
    return model.objects.filter(lease_owner__startswith=f"{node_name}:").update(
        lease_owner="", lease_until=None
    )


def unowned(now=None) -> Q:
    now = now or timezone.now()
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)
