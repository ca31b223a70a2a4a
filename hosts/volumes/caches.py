"""Owners' build caches: the data volume of a host removed with volume policy
"cache" (or of a host that started on a cache) stays, role "cache", for its
owner's next host on the same endpoint, one host at a time; a per-owner
budget (DCHWEB_CACHE_BUDGET_GB) evicts the least recently used.

Whose a cache is comes from the database (the host's owner when it was
kept), never from the volume's labels: labels cannot change, and a cache
outlives the host that made it.
"""

import logging

from django.conf import settings
from django.db.models import Count, F, Q, Sum
from django.utils import timezone
from django.utils.timesince import timesince

from hosts import engine
from hosts.core import audit, installation
from hosts.core.connections import connection_for
from hosts.models import AuditEvent, BuildHost, BuildHostStep, Volume, free_pool_q
from hosts.volumes import ledger
from hosts.volumes.budgets import GB

logger = logging.getLogger(__name__)

ROLE = ledger.CACHE_ROLE
# The timeline's step that says which cache a host starts on.
STEP = "cache"
SYSTEM = AuditEvent.Source.TASK
NBSP = "\xa0"


def caches():
    """This installation's cache volumes still on an engine."""
    return Volume.objects.filter(
        role=ROLE,
        present=True,
        managed=True,
        installation=installation.installation_id(),
    )


# --- Starting on a cache ----------------------------------------------------------


def any_of(owner, endpoint) -> bool:
    """Whether `owner` has a cache on `endpoint`, free or in use: one query
    that spares the look-ups for their free cache and their warm hosts
    there (most requests come from someone with none)."""
    if owner is None or endpoint is None:
        return False
    return caches().filter(owner_name=owner.get_username(), endpoint=endpoint).exists()


def newest_free(owner, endpoint) -> Volume | None:
    """The owner's most recently used cache on `endpoint` no host uses now."""
    if owner is None or endpoint is None:
        return None
    mine = caches().filter(owner_name=owner.get_username(), endpoint=endpoint)
    _release_ended_holders(mine)
    return (
        mine.filter(cache_host__isnull=True)
        .order_by(F("cache_last_used").desc(nulls_last=True), "-pk")
        .first()
    )


def _release_ended_holders(mine) -> None:
    """A host that took a cache and ended without a removal that gives it
    back (a build cancelled before its host was made; a host failed before
    its container existed) no longer holds it."""
    ended = Q(cache_host__state=BuildHost.State.REMOVED) | Q(
        cache_host__state=BuildHost.State.FAILED, cache_host__container_id=""
    )
    held = mine.filter(ended, cache_host__isnull=False)
    if held.exists():
        held.update(cache_host=None)


def take(volume: Volume, host) -> bool:
    """Mark `volume` as used by `host`, unless another host took it first
    (or it is being evicted): one conditional UPDATE, so of two requests at
    once one gets the cache and the other starts on a new data volume. On
    success the host's data volume is the cache and its timeline says so."""
    now = timezone.now()
    taken = Volume.objects.filter(
        pk=volume.pk, role=ROLE, present=True, cache_host__isnull=True
    ).update(cache_host=host)
    if not taken:
        return False
    BuildHost.objects.filter(pk=host.pk).update(cache_volume=volume.name)
    host.cache_volume = volume.name
    BuildHostStep.objects.create(
        build_host=host,
        name=STEP,
        status=BuildHostStep.Status.DONE,
        started_at=now,
        finished_at=now,
        detail=started_on_words(volume, now),
    )
    return True


def started_on_words(volume: Volume, now=None) -> str:
    """ "starts on your build cache dchweb-…-data, last used 2 hours ago,
    reused 3 times" """
    now = now or timezone.now()
    words = f"starts on your build cache {volume.name}"
    if volume.cache_last_used is not None:
        words += f", {last_used_words(volume.cache_last_used, now)}"
    reuses = volume.cache_reuses
    if reuses:
        words += f", reused {reuses} time{'s' if reuses != 1 else ''}"
    return words[:300]


def last_used_words(when, now=None) -> str:
    now = now or timezone.now()
    if (now - when).total_seconds() < 60:
        return "last used less than a minute ago"
    # timesince() joins its number and unit with a no-break space.
    return f"last used {timesince(when, now, depth=1).replace(NBSP, ' ')} ago"


def vanished(host) -> str:
    """The cache `host` was to start on is gone from the engine: the ledger
    forgets it and the host goes on with a data volume of its own. Returns
    the words for the host's timeline."""
    name = host.cache_volume
    Volume.objects.filter(endpoint=host.endpoint_id, name=name).update(
        present=False, cache_host=None
    )
    BuildHost.objects.filter(pk=host.pk).update(cache_volume="")
    host.cache_volume = ""
    return f"your build cache {name} is gone from the engine: a new data volume instead"


def held_by_owner(owner):
    """The hosts that hold one of `owner`'s caches now (ids, a subquery)."""
    return (
        caches()
        .filter(owner_name=owner.get_username(), cache_host__isnull=False)
        .values("cache_host")
    )


def to_warm(endpoint, used_since, active_owners) -> list[Volume]:
    """Free caches on `endpoint` worth a warm host: the newest of each owner
    in `active_owners` who used it since `used_since` and has no warm host
    there yet, newest first."""
    here = caches().filter(endpoint=endpoint)
    warmed = set(
        here.filter(
            free_pool_q("cache_host__"),
            cache_host__state__in=(*BuildHost.WAITING_STATES, BuildHost.State.READY),
        ).values_list("owner_name", flat=True)
    )
    free = (
        here.filter(
            cache_host__isnull=True,
            cache_last_used__gte=used_since,
            owner_name__in=list(active_owners),
        )
        .exclude(owner_name__in=warmed)
        .order_by("-cache_last_used", "-pk")
    )
    newest = {}
    for volume in free:
        newest.setdefault(volume.owner_name, volume)
    return list(newest.values())


# --- Keeping a cache when its host goes -------------------------------------------


def keeps_cache(host) -> bool:
    """Does the host's data volume stay as its owner's cache when it goes?
    A host that started on a cache gives it back, a warm pool host on one
    too; a pool host nobody claimed has no owner to keep a new one for."""
    if host.cache_volume:
        return True
    return (
        host.owner_id is not None and host.volume_policy == BuildHost.VolumePolicy.CACHE
    )


def keep(host) -> bool:
    """The removed (or rolled back) host's data volume, now detached, is its
    owner's cache: last used now, free for the next host, reused once more
    when this host had started on it (and got ready); a warm pool host's
    owner never used it. False when the ledger
    has no row for it (the volume was never made). Safe to run again: a second run finds
    the cache free already and counts no second reuse."""
    now = timezone.now()
    row = Volume.objects.filter(
        endpoint=host.endpoint_id, name=host.volume_name("docker-data"), present=True
    ).first()
    if row is None:
        return False
    if row.role == ROLE and row.cache_host_id not in (None, host.pk):
        return True  # another host holds it now: not ours to give back
    was_holder = row.role == ROLE and row.cache_host_id == host.pk
    row.role = ROLE
    row.cache_host = None
    row.status = Volume.Status.ORPHANED
    row.attached_to = []
    row.detached_since = row.detached_since or now
    fields = ["role", "cache_host", "status", "attached_to", "detached_since"]
    if host.owner_id is None:
        # A warm pool host nobody claimed gives the cache back as it was:
        # still its owner's, not used, not reused.
        row.save(update_fields=fields)
        return True
    row.owner_name = host.owner.get_username()
    row.cache_last_used = now
    fields += ["owner_name", "cache_last_used"]
    if was_holder and host.cache_volume and host.ready_at is not None:
        row.cache_reuses = F("cache_reuses") + 1
        fields.append("cache_reuses")
    row.save(update_fields=fields)
    return True


def names_on(endpoint) -> set[str]:
    """The cache volumes the ledger knows on `endpoint`: whatever a host's
    labels say, no removal of that host's volumes may take them."""
    return set(
        Volume.objects.filter(endpoint=endpoint, role=ROLE, present=True).values_list(
            "name", flat=True
        )
    )


# --- The budget -------------------------------------------------------------------


def budget_bytes() -> int:
    """Each owner's cache budget in bytes; 0: no limit."""
    return max(0, int(settings.DCHWEB_CACHE_BUDGET_GB * GB))


def bytes_by_owner() -> list[dict]:
    """Each owner's caches: how many, their bytes (unmeasured count as
    nothing), the largest first."""
    rows = (
        caches()
        .exclude(owner_name="")
        .values("owner_name")
        .annotate(bytes=Sum("size_bytes"), volumes=Count("id"))
        .order_by("-bytes", "owner_name")
    )
    return [{**row, "bytes": row["bytes"] or 0} for row in rows]


def evict_over_budget() -> list[str]:
    """Per owner, while their caches weigh more than the budget, remove the
    least recently used free one (never one a host uses; one the engine says
    is in use is skipped). Returns the names removed."""
    budget = budget_bytes()
    if not budget:
        return []
    evicted = []
    for row in bytes_by_owner():
        used = row["bytes"]
        if used <= budget:
            continue
        oldest_first = (
            caches()
            .filter(owner_name=row["owner_name"], cache_host__isnull=True)
            .select_related("endpoint")
            .order_by(F("cache_last_used").asc(nulls_first=True), "pk")
        )
        for volume in oldest_first:
            if used <= budget:
                break
            if _evict(volume, used, budget):
                used -= volume.size_bytes or 0
                evicted.append(volume.name)
    return evicted


def _evict(volume, used, budget) -> bool:
    # Out of the ledger's free caches first, so no host takes it meanwhile;
    # back in if the engine keeps it.
    claimed = Volume.objects.filter(
        pk=volume.pk, present=True, cache_host__isnull=True
    ).update(present=False)
    if not claimed:
        return False
    try:
        engine.remove_volume(connection_for(volume.endpoint), volume.name)
    except engine.EngineError as error:
        Volume.objects.filter(pk=volume.pk).update(present=True)
        logger.info("cache %s not evicted: %s", volume.name, error.message)
        return False
    audit.record(
        None,
        "volume.cache_evicted",
        volume,
        {
            "owner": volume.owner_name,
            "endpoint": volume.endpoint.name,
            "bytes": volume.size_bytes or 0,
            "owner_cache_bytes": used,
            "budget_bytes": budget,
        },
        source=SYSTEM,
    )
    return True
