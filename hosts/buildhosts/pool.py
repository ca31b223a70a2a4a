"""The warm pool: build hosts provisioned ahead, per endpoint, for whoever
asks next.

A pool host has the endpoint's default image and every registry it trusts,
belongs to nobody (owner None, from_pool) and counts against the endpoint's
cap. A request it fits claims it atomically; the refill (after each claim,
in the periodic pass, when an admin changes the pool's size) tops each pool
up and recycles hosts that no longer fit the endpoint or stopped answering.
Too old ones go by their time to live (DCHWEB_POOL_MAX_AGE_HOURS), through
the usual reaper.

Worker side: the refill returns what to provision and remove; the task
enqueues it.
"""

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
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
)
from hosts.notifications import outbox, payloads
from hosts.volumes import ledger

logger = logging.getLogger(__name__)

SYSTEM = AuditEvent.Source.TASK
CLAIM_STEP = "claim"
CLAIMED = "claimed from the pool"
# A free pool host waits in one of these (failed or removing: not any more).
WAITING_OR_READY = (*BuildHost.WAITING_STATES, BuildHost.State.READY)
# How long a free pool host may take to answer its check.
PING_TIMEOUT_SECONDS = 3


def free_hosts(endpoint=None):
    """Pool hosts nobody has claimed (any state); on `endpoint` if given."""
    found = BuildHost.objects.filter(from_pool=True, owner__isnull=True)
    return found.filter(endpoint=endpoint) if endpoint is not None else found


def ready_count(endpoint) -> int:
    """Free pool hosts ready to be claimed now (all seven steps passed); an
    endpoint from with_ready_counts() already knows."""
    if hasattr(endpoint, "pool_ready"):
        return endpoint.pool_ready
    return free_hosts(endpoint).filter(state=BuildHost.State.READY).count()


def with_ready_counts(endpoints):
    """`endpoints` (a queryset), each with `pool_ready` counted in the same
    query: a list of endpoints asks once, not once per endpoint."""
    return endpoints.annotate(
        pool_ready=Count(
            "build_hosts",
            filter=Q(
                build_hosts__from_pool=True,
                build_hosts__owner__isnull=True,
                build_hosts__state=BuildHost.State.READY,
            ),
        )
    )


# --- Claiming ------------------------------------------------------------------------


def fitting(endpoint, image: str, registries) -> list[BuildHost]:
    """Free, ready pool hosts on `endpoint` with `image` (""; the pool's)
    that trust at least `registries`, oldest first."""
    image = image or pool_image(endpoint)
    wanted = {registry.pk for registry in registries}
    found = (
        free_hosts(endpoint)
        .filter(state=BuildHost.State.READY, image=image)
        .order_by("ready_at", "created_at")
        .prefetch_related("registries")
    )
    return [
        host
        for host in found
        if wanted <= {registry.pk for registry in host.registries.all()}
    ]


def claim(
    owner, wanted: dict, candidates, *, key="", fingerprint="", reason=""
) -> BuildHost | None:
    """Take the first of `candidates` still free for `owner` with what
    `wanted` asks (name, time to live, volume policy...), atomically: never
    one host for two requests. None when every one was taken meanwhile.
    Called inside the request's transaction: the owner's certificate, the
    timeline step, the audit and the notice stick with the claim or not."""
    for candidate in candidates:
        if wanted["disk_gb"] > candidate.disk_gb:
            continue  # a bigger disk than the pool's: a host of its own
        if _take(candidate, owner, wanted, key, fingerprint, reason):
            host = BuildHost.objects.select_related("endpoint", "owner").get(
                pk=candidate.pk
            )
            _hand_over(host, owner, notify=wanted.get("tell_owner", True))
            return host
    return None


def _take(candidate, owner, wanted, key, fingerprint, reason) -> bool:
    """One conditional UPDATE: on PostgreSQL a second claimer waits on the
    row and then finds its owner set; on SQLite writers take turns. Either
    way the WHERE is true for one request only."""
    now = timezone.now()
    return (
        BuildHost.objects.filter(
            pk=candidate.pk,
            from_pool=True,
            owner__isnull=True,
            state=BuildHost.State.READY,
        ).update(
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
    step.finish(BuildHostStep.Status.DONE, detail=CLAIMED)
    # The audit is the request's own (build_host.created, from_pool true):
    # it knows where the request came from.
    if notify:
        outbox.emit(
            "build_host.ready",
            payloads.build_host("build_host.ready", host),
            owner=owner,
        )


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
        plan.provision = _top_up(endpoint.pk)
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
    keep = []
    # Removed ones stay as rows (history): not looked at again.
    current = free_hosts(endpoint).filter(
        state__in=(*WAITING_OR_READY, BuildHost.State.FAILED)
    )
    for host in current.prefetch_related("registries"):
        why = _why_recycle(endpoint, host, image, registries)
        if why is None:
            keep.append(host)
        elif _retire(host, why):
            removed.append(str(host.pk))
    for host in _surplus(endpoint, keep):
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
    """More free hosts than the pool wants (none on a disabled endpoint):
    those still being made go first (they serve nobody yet), then the
    oldest."""
    wanted = 0 if endpoint.is_disabled else endpoint.pool_size
    if len(keep) <= wanted:
        return []
    keep.sort(key=lambda host: (host.state == BuildHost.State.READY, -_age(host)))
    return keep[: len(keep) - wanted]


def _age(host) -> float:
    return (timezone.now() - host.created_at).total_seconds()


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
        free = free_hosts(endpoint).filter(state__in=WAITING_OR_READY).count()
        active = BuildHost.objects.filter(
            endpoint=endpoint, state__in=BuildHost.ACTIVE_STATES
        ).count()
        room = max(0, endpoint.max_build_hosts - active)
        count = min(endpoint.pool_size - free, room)
        if count <= 0:
            return []
        registries = pool_registries(endpoint)
        return [str(_new_pool_host(endpoint, registries).pk) for _ in range(count)]


def _new_pool_host(endpoint, registries) -> BuildHost:
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
    host.save()
    host.registries.set(registries)
    audit.record(
        None,
        "build_host.pool_created",
        host,
        {"endpoint": endpoint.name, "image": host.image},
        source=SYSTEM,
    )
    return host
