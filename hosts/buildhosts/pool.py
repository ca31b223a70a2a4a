"""The warm pool: build hosts provisioned ahead, per endpoint, for whoever
asks next.

A pool host has the endpoint's default image and every registry it trusts,
belongs to nobody (owner None, from_pool) and counts against the endpoint's
cap. A request it fits claims it atomically; the refill (after each claim,
in the periodic pass, when an admin changes the pool's size) tops each pool
up and recycles hosts that no longer fit the endpoint or stopped answering.
Too old ones go by their time to live (DCHWEB_POOL_MAX_AGE_HOURS), through
the usual reaper.

An endpoint with a pool also keeps warm hosts on its owners' caches: when a
host leaves its data volume as its owner's cache, the refill makes a pool
host on that cache, ready for that owner only (whose a cache is, the ledger
says: Volume.owner_name), so their next request is both ready at once and
starts with their images and build steps. Up to pool_size of them besides
the pool, newest caches first, each for one owner who used it within the
pool's maximum age; an unclaimed one gives its cache back untouched.

Worker side: the refill returns what to provision and remove; the task
enqueues it.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from hosts import engine
from hosts.buildhosts import lifetime, provisioning
from hosts.core import audit
from hosts.core.connections import connection_for
from hosts.lib import x509
from hosts.models import (
    AuditEvent,
    BuildHost,
    BuildHostStep,
    Endpoint,
    Registry,
    RegistryTrust,
    free_pool_q,
)
from hosts.notifications import outbox, payloads
from hosts.volumes import caches, ledger

logger = logging.getLogger(__name__)

SYSTEM = AuditEvent.Source.TASK
CLAIM_STEP = "claim"
CLAIMED = "claimed from the pool"
# A free pool host waits in one of these (failed or removing: not any more).
WAITING_OR_READY = (*BuildHost.WAITING_STATES, BuildHost.State.READY)
GAVE_WAY = "it made room under the cap for a request no pool host fitted"
# How long a free pool host may take to answer its check.
PING_TIMEOUT_SECONDS = 3


def free_hosts(endpoint=None):
    """Pool hosts nobody has claimed (any state), warm ones on a cache
    among them; on `endpoint` if given."""
    found = BuildHost.objects.free_pool()
    return found.filter(endpoint=endpoint) if endpoint is not None else found


def pool_hosts(endpoint=None):
    """Free pool hosts anyone may claim: not on someone's cache."""
    return free_hosts(endpoint).filter(cache_volume="")


def warm_hosts(endpoint=None):
    """Free pool hosts on an owner's cache: theirs to claim, nobody else's."""
    return free_hosts(endpoint).exclude(cache_volume="")


def ready_count(endpoint) -> int:
    """Pool hosts ready to be claimed now by anyone (all seven steps
    passed); an endpoint from with_ready_counts() already knows."""
    if hasattr(endpoint, "pool_ready"):
        return endpoint.pool_ready
    return pool_hosts(endpoint).filter(state=BuildHost.State.READY).count()


def with_ready_counts(endpoints):
    """`endpoints` (a queryset), each with `pool_ready` and `pool_warm` (the
    warm hosts on owners' caches, ready or being made) counted in the same
    query: a list of endpoints asks once, not once per endpoint."""
    free = free_pool_q("build_hosts__")
    ready = Q(build_hosts__state=BuildHost.State.READY, build_hosts__cache_volume="")
    warm = Q(build_hosts__state__in=WAITING_OR_READY) & ~Q(build_hosts__cache_volume="")
    return endpoints.annotate(
        pool_ready=Count("build_hosts", filter=free & ready),
        pool_warm=Count("build_hosts", filter=free & warm),
    )


# --- Claiming ------------------------------------------------------------------------


def fitting(endpoint, image: str, registries) -> list[BuildHost]:
    """Ready pool hosts anyone may claim on `endpoint` with `image` (""; the
    pool's) that trust at least `registries`, oldest first."""
    return _ready_and_trusting(pool_hosts(endpoint), endpoint, image, registries)


def warm_fitting(owner, endpoint, image: str, registries) -> list[BuildHost]:
    """Ready warm hosts on `owner`'s caches on `endpoint` that fit, as
    fitting() does: a request of theirs there takes one before anything."""
    if owner is None:
        return []
    theirs = warm_hosts(endpoint).filter(pk__in=caches.held_by_owner(owner))
    return _ready_and_trusting(theirs, endpoint, image, registries)


def _ready_and_trusting(found, endpoint, image, registries) -> list[BuildHost]:
    image = image or pool_image(endpoint)
    wanted = {registry.pk for registry in registries}
    found = (
        found.filter(state=BuildHost.State.READY, image=image)
        .order_by("ready_at", "created_at")
        .prefetch_related("registries")
    )
    return [
        host
        for host in found
        if wanted <= {registry.pk for registry in host.registries.all()}
    ]


def claim(
    owner,
    wanted: dict,
    candidates,
    *,
    key="",
    fingerprint="",
    reason="",
    notify=True,
) -> BuildHost | None:
    """Take the first of `candidates` still free for `owner` with what
    `wanted` asks (name, time to live, volume policy...), atomically: never
    one host for two requests. None when every one was taken meanwhile.
    Called inside the request's transaction: the owner's certificate, the
    timeline step, the audit and the notice (none when `notify` is False)
    stick with the claim or not."""
    for candidate in candidates:
        if wanted["disk_gb"] > candidate.disk_gb:
            continue  # a bigger disk than the pool's: a host of its own
        if _take(candidate, owner, wanted, key, fingerprint, reason):
            host = BuildHost.objects.select_related("endpoint", "owner").get(
                pk=candidate.pk
            )
            _hand_over(host, owner, notify=notify)
            return host
    return None


def _take(candidate, owner, wanted, key, fingerprint, reason) -> bool:
    """One conditional UPDATE: on PostgreSQL a second claimer waits on the
    row and then finds its owner set; on SQLite writers take turns. Either
    way the WHERE is true for one request only."""
    now = timezone.now()
    # A warm host holds its owner's cache (their images): theirs only.
    anyones_or_theirs = Q(cache_volume="") | Q(pk__in=caches.held_by_owner(owner))
    return (
        BuildHost.objects.free_pool()
        .filter(anyones_or_theirs, pk=candidate.pk, state=BuildHost.State.READY)
        .update(
            owner=owner,
            claimed_at=now,
            name=wanted["name"],
            expires_at=now + wanted["ttl"],
            volume_policy=wanted["volume_policy"],
            keep_days=wanted["keep_days"],
            idle_minutes=wanted["idle_minutes"],
            last_activity_at=now,
            idempotency_key=key,
            request_fingerprint=fingerprint if key else "",
            placement=reason,
            updated_at=now,
            **lifetime.first_lease(wanted["lease_seconds"], now),
        )
        == 1
    )


def _hand_over(host, owner, *, notify) -> None:
    """The owner's client certificate, from the host's own CA (which only
    dchweb holds); the step on the timeline; the ready notice."""
    ca = x509.Issuer(host.ca_pem, host.get_secret("ca_key"))
    cert, key = x509.issue_client_certificate(owner.get_username(), ca=ca)
    host.owner_cert_pem = cert
    host.set_secret("owner_key", key)
    host.save(update_fields=["owner_cert_pem", "owner_key_encrypted", "updated_at"])
    # The engine's labels still say nobody: the ledger reads the owner here.
    ledger.note_owner(host)
    step = BuildHostStep.objects.create(build_host=host, name=CLAIM_STEP)
    step.finish(BuildHostStep.Status.DONE, detail=claimed_words(host))
    # The audit is the request's own (build_host.created, from_pool true):
    # it knows where the request came from.
    if notify:
        outbox.emit(
            "build_host.ready",
            payloads.build_host("build_host.ready", host),
            owner=owner,
        )


def claimed_words(host) -> str:
    if host.cache_volume:
        return f"{CLAIMED}, ready on your build cache {host.cache_volume}"
    return CLAIMED


# --- Refilling -----------------------------------------------------------------------


@dataclass
class Refill:
    """What a refill decided: host ids for the task to provision and remove."""

    provision: list[str] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)


def pool_image(endpoint) -> str:
    return endpoint.default_image or settings.DCHWEB_BUILD_HOST_IMAGE


def pool_registries(endpoint) -> list[Registry]:
    """The registries the endpoint trusts: all but those its trust matrix
    saw it fail to log in to. A pair not checked yet (a new endpoint, a new
    registry) counts as trusted, as placement counts it, so a new pool is
    of use at once and the same requests fit it; a host that cannot log in
    after all fails its verify step, and a failed pool host is replaced,
    never handed out."""
    refused = RegistryTrust.objects.filter(endpoint=endpoint, ok=False)
    return list(
        Registry.objects.exclude(pk__in=refused.values("registry_id")).order_by("pk")
    )


def refill(endpoint_id: int) -> Refill:
    """Recycle the free pool hosts that should go, then provision new ones
    up to the endpoint's pool_size (never past its cap). An endpoint that
    is off or disabled, or has no pool, gets none; a disabled one, or a
    smaller pool, loses its surplus free hosts."""
    endpoint = Endpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return Refill()
    plan = Refill(remove=_recycle(endpoint))
    if _may_grow(endpoint):
        plan.provision = _top_up(endpoint.pk) + _warm_caches(endpoint.pk)
    if plan.provision or plan.remove:
        logger.info(
            "pool of %s: %d to provision, %d to remove",
            endpoint.name,
            len(plan.provision),
            len(plan.remove),
        )
    return plan


def _may_grow(endpoint) -> bool:
    return (
        endpoint.health == Endpoint.Health.ON
        and endpoint.pool_size > 0
        and bool(pool_image(endpoint))
    )


def _recycle(endpoint) -> list[str]:
    """Free pool hosts that failed, no longer fit, do not answer, or are
    more than the pool wants: marked for removal (their ids returned)."""
    removed = []
    image, registries = pool_image(endpoint), {r.pk for r in pool_registries(endpoint)}
    keep, keep_warm = [], []
    # Removed ones stay as rows (history): not looked at again.
    current = free_hosts(endpoint).filter(
        state__in=(*WAITING_OR_READY, BuildHost.State.FAILED)
    )
    for host in current.prefetch_related("registries"):
        why = _why_recycle(endpoint, host, image, registries)
        if why is None:
            (keep_warm if host.cache_volume else keep).append(host)
        elif _retire(host, why):
            removed.append(str(host.pk))
    for host in _surplus(endpoint, keep) + _surplus(endpoint, keep_warm):
        if _retire(host, "the pool is smaller now"):
            removed.append(str(host.pk))
    return removed


def _why_recycle(endpoint, host, image, registries) -> str | None:
    """Why a free pool host goes, in words; None: it stays."""
    if host.state == BuildHost.State.FAILED:
        return "it failed: " + (host.error or "a provisioning step failed")
    if host.image != image:
        return f"the endpoint's image is {image or 'none'} now"
    if {r.pk for r in host.registries.all()} != registries:
        return "the registries the endpoint trusts changed"
    if host.state == BuildHost.State.READY and endpoint.health == Endpoint.Health.ON:
        return _not_answering(endpoint, host)
    return None


def _not_answering(endpoint, host) -> str | None:
    """A ready pool host that is not what it was: its container gone or
    stopped behind dchweb's back, or its engine not answering /_ping over
    mutual TLS. An endpoint that does not answer says nothing of the host."""
    try:
        status = engine.container_status(connection_for(endpoint), host.container_id)
    except engine.EngineNotFound:
        return "its container is gone from the engine"
    except engine.EngineError:
        return None
    if status.state != "running":
        return f"its container is {status.state or 'not running'}"
    inside = provisioning.host_connection(host, timeout=PING_TIMEOUT_SECONDS)
    try:
        if engine.ping(inside):
            return None
    except engine.EngineError as error:
        return f"it did not answer over mutual TLS: {error.message}"
    return "it did not answer over mutual TLS"


def _surplus(endpoint, keep) -> list[BuildHost]:
    """More free hosts than the pool wants (none on a disabled endpoint;
    the pool's and the warm ones on caches are counted apart): those still
    being made go first (they serve nobody yet), then the oldest."""
    wanted = 0 if endpoint.is_disabled else endpoint.pool_size
    if len(keep) <= wanted:
        return []
    keep.sort(key=lambda host: (host.state == BuildHost.State.READY, -_age(host)))
    return keep[: len(keep) - wanted]


def _age(host) -> float:
    return (timezone.now() - host.created_at).total_seconds()


def give_way(endpoint) -> str | None:
    """Mark one free pool host on `endpoint` for removal, to make room under
    the cap for a request no pool host fits (a pool as large as the cap
    would otherwise refuse it): one still being made, else the oldest ready
    one, else somebody's warm host (its cache goes back untouched). Its id,
    for the caller to remove; None when there is none. In the request's
    transaction: a refused request gives nothing up."""
    order = (
        pool_hosts(endpoint).filter(state__in=BuildHost.WAITING_STATES),
        pool_hosts(endpoint).filter(state=BuildHost.State.READY),
        warm_hosts(endpoint).filter(state__in=WAITING_OR_READY),
    )
    for found in order:
        for host in found.order_by("created_at"):
            if _retire(host, GAVE_WAY):
                return str(host.pk)
    return None


def spare_count(endpoint) -> int:
    """Free pool hosts on `endpoint` that could give way (give_way())."""
    return free_hosts(endpoint).filter(state__in=WAITING_OR_READY).count()


def _retire(host, why) -> bool:
    """Mark a pool host for removal if it is still nobody's: a claim that
    came first keeps it (the row's lock, or SQLite's one writer)."""
    with transaction.atomic():
        still_free = (
            free_hosts()
            .select_for_update()
            .filter(pk=host.pk)
            .exclude(state__in=(BuildHost.State.REMOVING, BuildHost.State.REMOVED))
            .first()
        )
        if still_free is None:
            return False
        _, marked = provisioning.mark_for_removal(
            None, still_free, True, action="build_host.pool_recycled", reason=why
        )
    if marked:
        logger.info("pool host %s recycled: %s", host.name, why)
    return marked


def _top_up(endpoint_id) -> list[str]:
    """New pool hosts up to pool_size, under the endpoint row's lock: two
    refills at once count one after the other, so neither overfills (on
    SQLite the transaction alone takes the one write lock)."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
        count = _missing(endpoint, pool_hosts(endpoint))
        if count <= 0:
            return []
        registries = pool_registries(endpoint)
        return [str(_new_pool_host(endpoint, registries).pk) for _ in range(count)]


def _warm_caches(endpoint_id) -> list[str]:
    """A warm host on each owner's newest free cache here (used within the
    pool's maximum age, by an active user), up to pool_size of them and
    never past the cap: after the pool's own, under the same lock."""
    with transaction.atomic():
        endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
        count = _missing(endpoint, warm_hosts(endpoint))
        if count <= 0:
            return []
        since = timezone.now() - timedelta(hours=settings.DCHWEB_POOL_MAX_AGE_HOURS)
        owners = get_user_model().objects.filter(is_active=True)
        wanted = caches.to_warm(
            endpoint, since, owners.values_list("username", flat=True)
        )
        registries = pool_registries(endpoint)
        made = []
        for volume in wanted[:count]:
            host = _new_pool_host(endpoint, registries, cache=volume)
            if host is not None:
                made.append(str(host.pk))
        return made


def _missing(endpoint, kind) -> int:
    """How many more hosts of `kind` (a queryset of free pool hosts) the
    pool wants, within the room left under the endpoint's cap."""
    free = kind.filter(state__in=WAITING_OR_READY).count()
    active = BuildHost.objects.filter(
        endpoint=endpoint, state__in=BuildHost.ACTIVE_STATES
    ).count()
    room = max(0, endpoint.max_build_hosts - active)
    return min(endpoint.pool_size - free, room)


def _new_pool_host(endpoint, registries, cache=None) -> BuildHost | None:
    """A new free pool host, on `cache` (an owner's free cache volume) if
    given; None when a request took that cache first."""
    now = timezone.now()
    host = BuildHost(
        owner=None,
        from_pool=True,
        endpoint=endpoint,
        image=pool_image(endpoint),
        volume_policy=BuildHost.VolumePolicy.DELETE,
        created_at=now,
        expires_at=now + timedelta(hours=settings.DCHWEB_POOL_MAX_AGE_HOURS),
        placement=f"made ahead in the warm pool of {endpoint.name}",
    )
    host.name = f"pool-{host.short_id}"
    if cache is not None:
        host.placement += f", on the build cache of {cache.owner_name}"
    with transaction.atomic():
        host.save()
        if cache is not None and not caches.take(cache, host):
            transaction.set_rollback(True)
            return None
    host.registries.set(registries)
    details = {"endpoint": endpoint.name, "image": host.image}
    if cache is not None:
        details.update(cache=cache.name, cache_owner=cache.owner_name)
    audit.record(None, "build_host.pool_created", host, details, source=SYSTEM)
    return host
