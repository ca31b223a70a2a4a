"""The volume ledger: every volume on every endpoint, whose it is, where it
came from, what it costs; and clean-up plans that cannot remove what is in use.

A refresh asks an engine for all volumes and all containers (two calls,
whatever their numbers) and writes the ledger in batches; between refreshes
the events watcher applies each change to the rows it touches (note_*).
Sizes are measured apart (one `system df`), in the background, never on a
page load.
"""

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from hosts import engine
from hosts.core import installation
from hosts.core.connections import connection_for
from hosts.models import (
    AuditEvent,
    BuildHost,
    Endpoint,
    Volume,
    VolumeLedgerStamp,
)

logger = logging.getLogger(__name__)

BATCH = 500
_ANONYMOUS = re.compile(r"^[0-9a-f]{64}$")
MANAGED_LABEL = "io.dchweb.managed"
# An owner's build cache (hosts/volumes/caches.py).
CACHE_ROLE = "cache"
SYSTEM = AuditEvent.Source.TASK
UPDATED_FIELDS = (
    "driver",
    "labels",
    "status",
    "managed",
    "installation",
    "anonymous",
    "build_host_id",
    "role",
    "owner_name",
    "attached_to",
    "last_container",
    "last_image",
    "created_on_engine",
    "last_seen",
    "last_attached",
    "detached_since",
    "present",
    "size_bytes",
    "size_measured_at",
)


@dataclass(frozen=True)
class RefreshResult:
    endpoint: str
    volumes: int
    gone: int
    engine_calls: int
    error: str = ""
    # The containers the listing showed (the events watcher remembers them).
    containers: tuple = field(default=(), repr=False, compare=False)


# --- Refresh -------------------------------------------------------------------------


def refresh_all(endpoint_id=None) -> list[RefreshResult]:
    return [refresh(endpoint) for endpoint in Endpoint.objects.enabled(endpoint_id)]


def refresh(endpoint) -> RefreshResult:
    """Bring the endpoint's ledger up to date with its engine. A failed
    listing changes nothing (a volume is not "gone" because we could not look).

    Rows are read as plain values (no model instances: at 10,000 volumes
    those cost more than the engine's listing), and only rows that changed
    are written one by one; "seen now" and "attached now" are one UPDATE each."""
    try:
        inventory = engine.volume_inventory(connection_for(endpoint))
    except engine.EngineError as error:
        return RefreshResult(endpoint.name, 0, 0, 1, error=error.message)
    now = timezone.now()
    users = _users_by_volume(inventory.containers)
    known = {
        values["name"]: values
        for values in Volume.objects.filter(endpoint=endpoint).values(
            "pk", "name", *_COMPARED
        )
    }
    host_ids = _build_host_ids(inventory.volumes)
    new, changed, seen_names = [], [], set()
    for seen in inventory.volumes:
        seen_names.add(seen.name)
        values = known.get(seen.name)
        row = _Row(values) if values else None
        before = _state(row) if row else None
        row = row or Volume(endpoint=endpoint, name=seen.name, first_seen=now)
        _apply(row, seen, users.get(seen.name, []), host_ids, now)
        _vic_size(row, seen, now)
        if before is None:
            new.append(row)
        elif _state(row) != before:
            changed.append(
                Volume(pk=values["pk"], **{f: getattr(row, f) for f in _COMPARED})
            )
    gone = [
        values["pk"]
        for name, values in known.items()
        if values["present"] and name not in seen_names
    ]
    with transaction.atomic():
        Volume.objects.bulk_create(new, batch_size=BATCH)
        # bulk_update writes a CASE per field and row: for the changed ones only.
        Volume.objects.bulk_update(changed, _COMPARED, batch_size=BATCH)
        for start in range(0, len(gone), BATCH):
            Volume.objects.filter(pk__in=gone[start : start + BATCH]).update(
                present=False
            )
        # Every row still present was seen now; those in use were attached now.
        here = Volume.objects.filter(endpoint=endpoint, present=True)
        here.update(last_seen=now)
        here.filter(status=Volume.Status.IN_USE).update(last_attached=now)
    return RefreshResult(
        endpoint.name,
        len(inventory.volumes),
        len(gone),
        inventory.calls,
        containers=tuple(inventory.containers),
    )


# What a refresh reads and compares to decide whether a row changed;
# last_seen and last_attached move on every refresh and are written apart.
_COMPARED = tuple(f for f in UPDATED_FIELDS if f not in ("last_seen", "last_attached"))


class _Row:
    """A ledger row as plain attributes, for _apply and _state."""

    def __init__(self, values):
        self.__dict__.update(values)


def _state(row):
    values = [getattr(row, field) for field in _COMPARED]
    # A UUID from the database, a string from a label: the same build host.
    values[_COMPARED.index("build_host_id")] = str(row.build_host_id or "")
    return values


def _users_by_volume(containers):
    users = {}
    for container in containers:
        for name in container.volumes:
            users.setdefault(name, []).append(container)
    return users


def _build_host_ids(volumes) -> dict[str, str]:
    """The build hosts the volumes' labels name that dchweb knows, each with
    its owner's username from the database ("" for a free pool host)."""
    wanted = {v.labels.get("io.dchweb.build-host") for v in volumes}
    wanted.discard(None)
    valid = set()
    for value in wanted:
        try:
            valid.add(str(BuildHost._meta.pk.to_python(value)))
        except ValidationError:  # a label someone else wrote
            continue
    known = BuildHost.objects.filter(pk__in=valid).values_list("pk", "owner__username")
    return {str(pk): owner or "" for pk, owner in known}


def _apply(row, seen, users, host_ids, now):
    _apply_volume(row, seen, host_ids, now)
    _apply_users(row, users, now, seen.options)


def _apply_volume(row, seen, host_ids, now):
    """What the volume itself says: labels, driver, creation; seen now."""
    labels = seen.labels
    row.driver = seen.driver
    row.labels = labels
    row.managed = labels.get(MANAGED_LABEL) == "true"
    row.installation = labels.get("io.dchweb.installation", "")
    row.anonymous = bool(_ANONYMOUS.match(seen.name)) and not row.managed
    host_id = labels.get("io.dchweb.build-host", "")
    row.build_host_id = host_id if host_id in host_ids else None
    # An owner's cache keeps the database's role and owner: the host it
    # outlived labelled it "docker-data", and labels cannot change.
    if row.role != CACHE_ROLE:
        row.role = labels.get("io.dchweb.role", "")
        row.owner_name = _labelled_owner(labels, row.build_host_id, host_ids)
    row.created_on_engine = seen.created
    row.last_seen = now
    row.present = True


def _labelled_owner(labels, build_host_id, host_ids) -> str:
    # Labels cannot change: a pool host's say nobody even once it is claimed,
    # so the database's owner wins for a host dchweb knows.
    if build_host_id is not None:
        return host_ids[build_host_id]
    return labels.get("io.dchweb.owner", "")


def _apply_users(row, users, now, options):
    """Who uses it (containers, the newest first) and so its status; the
    last user stays on the row as its provenance once it is detached."""
    if users:
        row.attached_to = [user.name for user in users]
        row.last_container, row.last_image = users[0].name, users[0].image
        row.last_attached, row.detached_since = now, None
        row.status = Volume.Status.IN_USE
        return
    row.attached_to = []
    # A VCH remembers which container made a volume; a Docker engine does not.
    row.last_container = row.last_container or options.get("container", "")
    row.last_image = row.last_image or options.get("image", "")
    row.detached_since = row.detached_since or now
    row.status = Volume.Status.ORPHANED if row.managed else Volume.Status.DANGLING


def _vic_size(row, seen, now):
    if seen.options.get("Capacity"):
        row.size_bytes = capacity_bytes(seen.options["Capacity"])
        row.size_measured_at = now


# --- Events: one change at a time ----------------------------------------------------
#
# The events watcher (watcher.py) applies each engine event here, with the
# rules a refresh applies (_apply_volume, _apply_users), to the few rows it
# touches. A row is written only when what it says changed.


def note_volume_created(endpoint, seen) -> None:
    """A volume the engine created, or announced again (a container about to
    use a named volume): its own facts; who uses it is left as it was."""
    now = timezone.now()
    row = Volume.objects.filter(endpoint=endpoint, name=seen.name).first()
    before = _state(row) if row else None
    row = row or Volume(endpoint=endpoint, name=seen.name, first_seen=now)
    came_back = not row.present
    _apply_volume(row, seen, _build_host_ids([seen]), now)
    if before is None or came_back:
        _apply_users(row, [], now, seen.options)
    _vic_size(row, seen, now)
    _save(row, before)


def note_volume_removed(endpoint, name) -> None:
    Volume.objects.filter(endpoint=endpoint, name=name, present=True).update(
        present=False, last_seen=timezone.now()
    )


def note_volumes_left(endpoint, remaining) -> int:
    """After a prune (the engine names none of what it removed): every row
    whose volume is not among `remaining` is gone. Returns how many."""
    here = Volume.objects.filter(endpoint=endpoint, present=True)
    gone = [pk for pk, name in here.values_list("pk", "name") if name not in remaining]
    for start in range(0, len(gone), BATCH):
        Volume.objects.filter(pk__in=gone[start : start + BATCH]).update(
            present=False, last_seen=timezone.now()
        )
    return len(gone)


def note_container_created(endpoint, container) -> None:
    """The container uses its volumes: it is their newest user."""
    now = timezone.now()
    mine = Volume.objects.filter(endpoint=endpoint, name__in=container.volumes)
    for row in mine.filter(present=True):
        before = _state(row)
        others = [_Named(name) for name in row.attached_to if name != container.name]
        _apply_users(row, [container, *others], now, {})
        row.last_seen = now
        _save(row, before)


def note_container_removed(endpoint, container, images_by_name) -> None:
    """The container no longer uses its volumes; the ones nobody else uses
    keep it as their last container. `images_by_name` gives the image of a
    user that is left (it becomes the newest)."""
    now = timezone.now()
    mine = Volume.objects.filter(endpoint=endpoint, name__in=container.volumes)
    for row in mine.filter(present=True):
        before = _state(row)
        left = [name for name in row.attached_to if name != container.name]
        users = [_Named(name, images_by_name.get(name, "")) for name in left]
        _apply_users(row, users, now, {})
        _save(row, before)


def note_attached_now(endpoint, name) -> None:
    """A mount or unmount: the volume was attached until now. (Not a change
    of the ledger's totals: last_attached is not counted in its stamp.)"""
    Volume.objects.filter(
        endpoint=endpoint, name=name, status=Volume.Status.IN_USE
    ).update(last_attached=timezone.now())


@dataclass(frozen=True)
class _Named:
    """A user of a volume known by the name on its row (and the image the
    watcher remembers for it)."""

    name: str
    image: str = ""


def _save(row, before):
    """Insert a new row; write a changed one; an unchanged one was seen now."""
    if before is None:
        row.save(force_insert=True)
    elif _state(row) != before:
        row.save(update_fields=UPDATED_FIELDS)
    else:
        Volume.objects.filter(pk=row.pk).update(
            last_seen=row.last_seen, last_attached=row.last_attached
        )


def _owner_name(host) -> str:
    return host.owner.get_username() if host.owner_id else ""


def note_owner(host) -> None:
    """A pool host was claimed: its volumes are its new owner's now."""
    Volume.objects.filter(endpoint=host.endpoint, build_host=host).update(
        owner_name=_owner_name(host)
    )


def note_build_host_volumes(host, change: str) -> None:
    """Provisioning and removal keep the ledger current for their own two
    volumes without a rescan: `change` is "attached", "detached" or "gone"."""
    now = timezone.now()
    mine = Volume.objects.filter(endpoint=host.endpoint, name__in=host.volume_names)
    if change == "gone":
        mine.update(present=False, last_seen=now)
        return
    if change == "detached":
        for row in mine.filter(present=True):
            before = _state(row)
            _apply_users(row, [], now, {})
            row.last_seen = now
            _save(row, before)
        return
    installation_id = installation.installation_id()
    with transaction.atomic():
        for role in ("docker-data", "certs"):
            # The owner's cache the host started on stays a cache while in use,
            # and theirs: a warm pool host on it is nobody's until they claim it.
            on_cache = role == "docker-data" and bool(host.cache_volume)
            whose = (
                {}
                if on_cache and not host.owner_id
                else {"owner_name": _owner_name(host)}
            )
            _upsert(
                host.endpoint,
                host.volume_name(role),
                {
                    "managed": True,
                    "installation": installation_id,
                    "build_host": host,
                    "role": CACHE_ROLE if on_cache else role,
                    **whose,
                    "status": Volume.Status.IN_USE,
                    "attached_to": [host.container_name],
                    "last_container": host.container_name,
                    "last_image": host.image,
                    "last_seen": now,
                    "last_attached": now,
                    "detached_since": None,
                    "present": True,
                },
            )


def _upsert(endpoint, name, values) -> None:
    """update_or_create in one statement: the row inserted, or `values`
    written over the one there (the events watcher may have written it
    first), by INSERT ... ON CONFLICT on the ledger's one row per volume.
    update_or_create took a transaction and three queries a row."""
    Volume.objects.bulk_create(
        [Volume(endpoint=endpoint, name=name, **values)],
        update_conflicts=True,
        unique_fields=["endpoint", "name"],
        update_fields=list(values),
    )


def measure_sizes(endpoint) -> int:
    """Store each volume's size with its "as of" time; returns how many. (A
    VCH has no `system df`: its sizes come with the refresh, from Capacity.)"""
    try:
        sizes = engine.volume_sizes(connection_for(endpoint))
    except engine.EngineError:
        return 0
    now = timezone.now()
    rows = list(Volume.objects.filter(endpoint=endpoint, name__in=list(sizes)))
    for row in rows:
        row.size_bytes, row.size_measured_at = sizes[row.name], now
    Volume.objects.bulk_update(
        rows, ["size_bytes", "size_measured_at"], batch_size=BATCH
    )
    return len(rows)


def capacity_bytes(text):
    """VIC's Capacity option ("2048", "2GB", "512MB"; MB when no unit)."""
    match = re.match(r"^\s*(\d+)\s*([KMGT]?)B?\s*$", str(text).upper())
    if not match:
        return None
    power = " KMGT".index(match[2] or "M")
    return int(match[1]) * 1024**power


# --- Reading the ledger ---------------------------------------------------------------


@dataclass(frozen=True)
class VolumeFilters:
    endpoint_id: int | None = None
    status: str = ""
    owner: str = ""
    managed: bool | None = None
    older_than_days: int | None = None
    # A developer's view: only this owner's volumes, whatever else is asked
    # (hosts/volumes/plans.py: visible_filters).
    only_owner: str = ""


def ledger(filters: VolumeFilters):
    """Volumes the engines still have, filtered; newest first by default."""
    found = Volume.objects.filter(present=True).select_related("endpoint", "build_host")
    if filters.endpoint_id:
        found = found.filter(endpoint_id=filters.endpoint_id)
    if filters.status:
        found = found.filter(status=filters.status)
    if filters.owner:
        found = found.filter(owner_name=filters.owner)
    if filters.only_owner:
        found = found.filter(owner_name=filters.only_owner, managed=True)
    if filters.managed is not None:
        found = found.filter(managed=filters.managed)
    if filters.older_than_days:
        cutoff = timezone.now() - timedelta(days=filters.older_than_days)
        found = found.filter(
            Q(created_on_engine__lte=cutoff)
            | Q(created_on_engine__isnull=True, first_seen__lte=cutoff)
        )
    return found


# The totals cover every present volume that matches the filters: at 10,000
# volumes their scans cost far more than a page of rows. They are computed
# once per state of the ledger and kept in Django's cache under the ledger's
# stamp (VolumeLedgerStamp: the database changes it in the same transaction
# as any write of a volume row), so a page load reads the stamp and a cache
# entry. A reader takes the stamp before it computes: what it stores is at
# least as new as the stamp it stores under, and a write committed after the
# stamp was read brings a new stamp, so a total is never older than the last
# committed write. Per process (locmem) or shared (a configured cache): the
# stamp is what makes it right either way.
TOTALS_CACHE_SECONDS = 3600
OWNERS_LISTED = 500


def _cached(keys) -> dict:
    """What the cache holds under `keys`; nothing when the cache does not
    answer (a shared cache's Redis down): the totals are then computed."""
    try:
        return cache.get_many(keys)
    except Exception as error:  # the backend's own errors (redis, OSError...)
        logger.warning("the cache did not answer; computing the totals: %s", error)
        return {}


def _cache(key, value) -> None:
    try:
        cache.set(key, value, TOTALS_CACHE_SECONDS)
    except Exception as error:
        logger.warning("the cache did not take the totals: %s", error)


def kept(state_key, parts, compute, *, good=None):
    """compute() once per state of the ledger: what a reader makes from the
    totals (a page renders them) is cached under their `state_key` (from
    totals()) and `parts`, whatever else it depends on; `good(value)`, if
    given, says whether a kept value still holds (else it is computed
    again). No state key (an uncached read): computed every time."""
    if state_key is None:
        return compute()
    key = _hashed_key((state_key, parts))
    value = _cached([key]).get(key)
    if value is None or (good is not None and not good(value)):
        value = compute()
        _cache(key, value)
    return value


def ledger_stamp():
    """The ledger's stamp now, or None where the database keeps none."""
    return (
        VolumeLedgerStamp.objects.filter(pk=VolumeLedgerStamp.SINGLETON)
        .values_list("stamp", flat=True)
        .first()
    )


def totals(filters: VolumeFilters, *, with_owners=False):
    """Counts and reclaimable bytes (not in use) of the volumes that match,
    per owner and per endpoint; with when sizes were last measured and how
    many are unmeasured; and `owners`, the owners of present volumes (for the
    filter's suggestions), if asked. Three scans on a change of the ledger,
    none after (the older-than filter moves with the clock: never cached).
    `state_key` names this state of the ledger and these filters (for kept();
    None when not cached)."""
    stamp = ledger_stamp()
    cacheable = stamp is not None and not filters.older_than_days
    keys = {"totals": _cache_key(stamp, "totals", filters)}
    if with_owners:
        keys["owners"] = _cache_key(stamp, "owners")
    found = _cached(keys.values()) if cacheable else {}
    summary = found.get(keys["totals"])
    if summary is None:
        summary = _compute_totals(ledger(filters))
        if cacheable:
            _cache(keys["totals"], summary)
    summary = dict(summary, by_endpoint=_endpoint_names(summary["by_endpoint"]))
    if with_owners:
        owners = found.get(keys["owners"])
        if owners is None:
            owners = _owner_names()
            if stamp is not None:
                _cache(keys["owners"], owners)
        summary["owners"] = owners
    summary["state_key"] = keys["totals"] if cacheable else None
    return summary


def _cache_key(stamp, kind, filters=None):
    # Owners are free text: hashed, so any cache backend takes the key.
    if filters is not None:  # an API's enum and a page's string: one key
        filters = (
            filters.endpoint_id,
            str(filters.status),
            filters.owner,
            filters.managed,
            filters.older_than_days,
            filters.only_owner,
        )
    return _hashed_key((stamp, kind, filters))


def _hashed_key(parts):
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()
    return f"dchweb:volume-ledger:{digest}"


def _compute_totals(found):
    reclaimable = ~Q(status=Volume.Status.IN_USE)
    overall = found.aggregate(
        count=Count("id"),
        reclaimable_count=Count("id", filter=reclaimable),
        reclaimable_bytes=Sum("size_bytes", filter=reclaimable),
        unmeasured=Count("id", filter=reclaimable & Q(size_bytes__isnull=True)),
        measured_at=Max("size_measured_at", filter=reclaimable),
    )
    by = found.filter(reclaimable)
    return {
        **overall,
        "reclaimable_bytes": overall["reclaimable_bytes"] or 0,
        "by_owner": list(
            by.values("owner_name")
            .annotate(volumes=Count("id"), bytes=Sum("size_bytes"))
            .order_by("-bytes")
        ),
        # By id: an endpoint renamed later shows its new name (_endpoint_names).
        "by_endpoint": list(
            by.values("endpoint_id")
            .annotate(volumes=Count("id"), bytes=Sum("size_bytes"))
            .order_by("-bytes")
        ),
    }


def _endpoint_names(rows):
    names = dict(
        Endpoint.objects.filter(pk__in=[row["endpoint_id"] for row in rows])
        .order_by()
        .values_list("pk", "name")
    )
    return [
        {**row, "endpoint__name": names.get(row["endpoint_id"], "")} for row in rows
    ]


def _owner_names():
    return list(
        Volume.objects.filter(present=True)
        .exclude(owner_name="")
        .order_by("owner_name")
        .values_list("owner_name", flat=True)
        .distinct()[:OWNERS_LISTED]
    )


def left_behind_by(user):
    """What a developer's removed build hosts left: count and bytes."""
    mine = Volume.objects.filter(present=True, owner_name=user.get_username()).exclude(
        status=Volume.Status.IN_USE
    )
    summary = mine.aggregate(volumes=Count("id"), bytes=Sum("size_bytes"))
    return {"volumes": summary["volumes"] or 0, "bytes": summary["bytes"] or 0}


# --- What owners keep (budgets: hosts/volumes/budgets.py) -----------------------------
#
# A volume its owner keeps: this installation's (an owner label of another
# names someone of theirs), still on an engine, and either a cache volume
# (kept on purpose, whatever its host) or one whose build host is gone or
# ended (kept by its policy, or left by a host that failed). The
# docker-data and certs of a live host (provisioning, running or stopped: a
# stopped host may be resumed) are that host's disk, not kept yet: they count
# once the host is removed. Sizes not measured yet count as nothing.
KEPT_BY_OWNER = (
    Q(present=True, managed=True)
    & ~Q(owner_name="")
    & (
        Q(role="cache")
        | Q(build_host__isnull=True)
        | Q(build_host__state__in=BuildHost.ENDED_STATES)
    )
)


def kept_volumes(owner: str = ""):
    """The volumes owners keep (all owners', or `owner`'s)."""
    found = Volume.objects.filter(
        KEPT_BY_OWNER, installation=installation.installation_id()
    )
    return found.filter(owner_name=owner) if owner else found


def largest_kept(owner: str, count: int) -> list[dict]:
    """`owner`'s largest kept volumes: what removing would free most."""
    return list(
        kept_volumes(owner)
        .filter(size_bytes__gt=0)
        .order_by("-size_bytes", "name")
        .values("name", "endpoint__name", "size_bytes")[:count]
    )


def kept_by(owner: str, largest: int) -> dict:
    """`owner`'s kept `bytes` and `largest` volumes, as a page shows them:
    computed once per state of the ledger, like the totals (a host that ends
    without its volumes changing counts from the ledger's next change; the
    refusals and the periodic pass read kept_bytes_by_owner, uncached)."""
    stamp = ledger_stamp()
    key = _hashed_key((stamp, "kept", owner, largest))
    found = _cached([key]).get(key) if stamp is not None else None
    if found is None:
        found = {
            "bytes": kept_bytes_by_owner(owner).get(owner, 0),
            "largest": largest_kept(owner, largest),
        }
        if stamp is not None:
            _cache(key, found)
    return found


def kept_bytes_by_owner(owner: str = "") -> dict[str, int]:
    """Bytes each owner keeps (one aggregate), owners keeping nothing left out."""
    rows = (
        kept_volumes(owner)
        .values("owner_name")
        .annotate(bytes=Sum("size_bytes"))
        .order_by()
    )
    return {row["owner_name"]: row["bytes"] or 0 for row in rows}


# --- Clean-up plans -------------------------------------------------------------------
