"""Build-host use cases: ask for one, see it, extend it, remove it.

Views, the API and tasks call these. The slow engine work (provisioning and
removal) is in hosts/buildhosts/provisioning.py and runs in Celery tasks, enqueued when
the transaction that asked for it commits.
"""

import hashlib
import io
import json
import re
import zipfile
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from hosts import engine
from hosts.buildhosts import inside, lifetime, placement, pool, provisioning, tasks
from hosts.core import audit, installation, permissions
from hosts.core.connections import connection_for
from hosts.core.errors import Conflict, Invalid, NotFound, Unavailable
from hosts.core.queue import enqueue_on_commit
from hosts.models import BuildHost, BuildHostStep, Endpoint, Registry
from hosts.volumes import budgets, caches

# Shown on the pages when a host has less than this left.
EXPIRY_WARNING = timedelta(minutes=30)
# A heartbeat lease (issue 14): shorter than a CI job's slowest call between
# two heartbeats would lose hosts in use; longer than a day is a time to live.
MIN_LEASE_SECONDS = 30
MAX_LEASE_SECONDS = 24 * 60 * 60
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._:/@-]*[a-zA-Z0-9_.-]*$")


class BuildHostInvalid(Invalid):
    """Bad input; `field` names the setting at fault."""

    code = "invalid_build_host"


class BuildHostNotFound(NotFound):
    pass


class BuildHostConflict(Conflict):
    """The request cannot be met as things stand (cap reached, wrong state,
    an Idempotency-Key reused for another request); `code` says which."""


# --- Who sees what ------------------------------------------------------------


def _hosts():
    return BuildHost.objects.claimed_or_own().select_related("endpoint", "owner")


def visible_to(user):
    """Build hosts `user` may see: their own; admins all."""
    return permissions.visible_to(user, _hosts())


def get_visible(user, build_host_id) -> BuildHost:
    not_found = BuildHostNotFound(f"no build host {build_host_id}")
    return permissions.get_visible(user, _hosts(), build_host_id, not_found)


# --- Asking for one -------------------------------------------------------------


def create_build_host(
    actor,
    data: dict,
    *,
    idempotency_key: str = "",
    provision=True,
    source=None,
    request=None,
) -> tuple[BuildHost, bool]:
    """Check the request, reserve a place under the caps, save the host and
    enqueue its provisioning (unless `provision` is False: an ephemeral
    build's task provisions its host itself). Returns (host, created); with
    an Idempotency-Key seen before, the host made for it and False."""
    key = (idempotency_key or "").strip()[:200]
    fingerprint = _fingerprint(data)
    if key:
        earlier = _earlier_request(actor, key, fingerprint)
        if earlier is not None:
            return earlier, False
    wanted = _clean(actor, data)
    # Volumes kept past the owner's budget: refused before anything is made.
    budgets.check_keep_policy(actor, wanted["volume_policy"])
    where = _place(actor, wanted)
    wanted["endpoint"] = where.endpoint
    wanted["image"] = _image(wanted["image"], where.endpoint)
    engine_ids = None if where.pool_hosts else _engine_build_host_ids(where.endpoint)
    try:
        with transaction.atomic():
            host = _claim_or_save(
                actor,
                wanted,
                where,
                engine_ids,
                key,
                fingerprint,
                # An ephemeral build's host (provision False) is not news of
                # its own: its build's outcome is.
                notify=provision,
            )
            audit.record(
                actor,
                "build_host.created",
                host,
                _describe(host),
                source=source,
                request=request,
            )
            if host.from_pool:
                # A warm host on the owner's cache is not one of the pool's:
                # the next one comes when its removal gives the cache back.
                if not host.cache_volume:
                    enqueue_on_commit(tasks.refill_pool, host.endpoint_id)
            elif provision:
                enqueue_on_commit(tasks.provision_build_host, str(host.pk))
    except IntegrityError:
        # Two requests with one key at once: the loser returns the winner's.
        earlier = _earlier_request(actor, key, fingerprint) if key else None
        if earlier is None:
            raise
        return earlier, False
    return host, True


def _place(actor, wanted) -> placement.Placement:
    try:
        return placement.place(actor, wanted)
    except placement.NothingFits as nothing:
        raise BuildHostConflict(
            nothing.message, code="nothing_fits", reasons=nothing.reasons
        ) from None


def _claim_or_save(
    actor, wanted, where, engine_ids, key, fingerprint, *, notify
) -> BuildHost:
    """A free pool host that fits, claimed (it is ready: no provisioning),
    else a new host, on the owner's cache when there is a free one. `notify`
    False: a claim does not tell the owner their host is ready."""
    _check_user_cap(actor)
    if where.pool_hosts:
        claimed = pool.claim(
            actor,
            wanted,
            where.pool_hosts,
            key=key,
            fingerprint=fingerprint,
            reason=where.reason,
            notify=notify,
        )
        if claimed is not None:
            return claimed
    _make_room(where.endpoint, engine_ids)
    # Every pool host taken meanwhile: a new one, and the words say so.
    reason = where.reason_if_new if where.pool_hosts else where.reason
    host = _save_new(actor, wanted, key, fingerprint, reason)
    if where.cache is not None and not caches.take(where.cache, host):
        _record_placement(host, where.reason_if_new)
    return host


def _record_placement(host, reason) -> None:
    if host.placement != reason:
        host.placement = reason
        host.save(update_fields=["placement", "updated_at"])


def _fingerprint(data: dict) -> str:
    canonical = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _earlier_request(actor, key, fingerprint):
    host = BuildHost.objects.filter(owner=actor, idempotency_key=key).first()
    if host is not None and host.request_fingerprint != fingerprint:
        raise BuildHostConflict(
            "this Idempotency-Key was used for a different request",
            code="idempotency_key_reused",
        )
    return host


def _clean(actor, data: dict) -> dict:
    """The request, checked; its endpoint None when it names none (placement
    chooses) and its image "" when it names none (the endpoint's default)."""
    named = data.get("endpoint_id") not in (None, "")
    endpoint = endpoint_for_request(data.get("endpoint_id")) if named else None
    ttl = _int(
        data, "ttl_minutes", BuildHost.DEFAULT_TTL_MINUTES, 5, BuildHost.MAX_TTL_MINUTES
    )
    policy, keep_days = parse_volume_policy(data.get("volume_policy") or "delete")
    return {
        "endpoint": endpoint,
        "registries": _registries(data.get("registry_ids")),
        "name": _name(data.get("name"), actor),
        "image": _image(data.get("image"), endpoint) if data.get("image") else "",
        "disk_gb": _int(
            data, "disk_gb", BuildHost.DEFAULT_DISK_GB, 1, BuildHost.MAX_DISK_GB
        ),
        "ttl": timedelta(minutes=ttl),
        "volume_policy": policy,
        "keep_days": keep_days,
        "lease_seconds": _int(
            data, "lease_seconds", None, MIN_LEASE_SECONDS, MAX_LEASE_SECONDS
        ),
        # None: the endpoint's, else the installation's (BuildHost).
        "idle_minutes": _int(data, "idle_minutes", None, 0, BuildHost.MAX_IDLE_MINUTES),
    }


def endpoint_for_request(endpoint_id) -> Endpoint:
    """The endpoint a request names, if it exists and is not disabled."""
    if endpoint_id in (None, ""):
        raise BuildHostInvalid("choose an endpoint", "endpoint_id")
    try:
        endpoint = Endpoint.objects.get(pk=int(endpoint_id))
    except (Endpoint.DoesNotExist, ValueError, TypeError):
        raise BuildHostInvalid(
            f"no endpoint with id {endpoint_id}", "endpoint_id"
        ) from None
    if endpoint.is_disabled:
        raise BuildHostInvalid(
            f"endpoint {endpoint.name} is disabled by an admin", "endpoint_id"
        )
    return endpoint


def _registries(registry_ids) -> list[Registry]:
    """The registries the host must trust: those named, or every registry."""
    if registry_ids is None:
        return list(Registry.objects.all())
    if not isinstance(registry_ids, list | tuple):
        raise BuildHostInvalid("registry_ids must be a list of ids", "registry_ids")
    try:
        wanted = {int(pk) for pk in registry_ids}
    except (ValueError, TypeError):
        raise BuildHostInvalid("registry_ids must be ids", "registry_ids") from None
    found = list(Registry.objects.filter(pk__in=wanted))
    missing = wanted - {registry.pk for registry in found}
    if missing:
        raise BuildHostInvalid(
            f"no registry with id {', '.join(map(str, sorted(missing)))}",
            "registry_ids",
        )
    return found


def _name(name, actor) -> str:
    name = (name or "").strip()
    if not name:
        stamp = timezone.now().strftime("%m%d-%H%M%S")
        return f"{actor.get_username()}-{stamp}"[:63]
    if not _NAME.match(name):
        raise BuildHostInvalid(
            "a name is 1 to 63 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit",
            "name",
        )
    return name


def _image(image, endpoint) -> str:
    image = (image or "").strip() or endpoint.default_image
    image = image or settings.DCHWEB_BUILD_HOST_IMAGE
    if not image:
        raise BuildHostInvalid(
            f"endpoint {endpoint.name} has no default build-host image: name one",
            "image",
        )
    if len(image) > 300 or not _IMAGE.match(image):
        raise BuildHostInvalid(f"{image!r} is not an image reference", "image")
    return image


# What each number is, in words for the pages (the API names the field in
# `field`): what it is, and how to say an amount of it.
_NUMBERS = {
    "ttl_minutes": ("the time to live", "minutes", lambda n: _minutes_words(n)),
    "minutes": ("the extension", "minutes", lambda n: _minutes_words(n)),
    "disk_gb": ("the disk size", "GB", lambda n: f"{n} GB"),
    "lease_seconds": ("the lease", "seconds", lambda n: f"{n} seconds"),
    "idle_minutes": ("the idle time", "minutes", lambda n: _minutes_words(n)),
}


def _int(data, field, default, low, high) -> int:
    value = data.get(field)
    if value in (None, ""):
        return default
    what, unit, amount = _NUMBERS[field]
    whole = BuildHostInvalid(f"{what} must be a whole number of {unit}", field)
    try:
        number = int(value)
    except (ValueError, TypeError):
        raise whole from None
    if isinstance(value, float) and value != number:
        raise whole
    if not low <= number <= high:
        raise BuildHostInvalid(
            f"{what} must be between {amount(low)} and {amount(high)}", field
        )
    return number


def _minutes_words(minutes: int) -> str:
    """5 → "5 minutes", 10080 → "7 days": in the largest unit that is whole."""
    for size, unit in ((24 * 60, "day"), (60, "hour"), (1, "minute")):
        if minutes >= size and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{minutes} minutes"


def parse_volume_policy(text: str) -> tuple[str, int | None]:
    """ "delete", "keep", "keep_days:N" or "cache" → (policy, N or None)."""
    text = str(text).strip()
    if text in (
        BuildHost.VolumePolicy.DELETE,
        BuildHost.VolumePolicy.KEEP,
        BuildHost.VolumePolicy.CACHE,
    ):
        return text, None
    prefix = f"{BuildHost.VolumePolicy.KEEP_DAYS}:"
    if text.startswith(prefix) and text[len(prefix) :].isdigit():
        days = int(text[len(prefix) :])
        if 1 <= days <= BuildHost.MAX_KEEP_DAYS:
            return BuildHost.VolumePolicy.KEEP_DAYS, days
        # The form's "Days to keep them" ends here: its words, not the syntax.
        raise BuildHostInvalid(
            f"the volumes can be kept for 1 to {BuildHost.MAX_KEEP_DAYS} days",
            "volume_policy",
        )
    raise BuildHostInvalid(
        f'volume_policy is "delete", "keep", "keep_days:N" (N from 1 to '
        f'{BuildHost.MAX_KEEP_DAYS}) or "cache", not {text!r}',
        "volume_policy",
    )


def _engine_build_host_ids(endpoint) -> set[str] | None:
    """Ids of this installation's build hosts the engine holds, or None when
    the engine does not answer (the database's count stands in)."""
    try:
        found = engine.list_managed_containers(
            connection_for(endpoint), installation.installation_id()
        )
    except engine.EngineError:
        return None
    return {item.labels.get("io.dchweb.build-host", "") for item in found}


def _check_user_cap(actor) -> None:
    per_user = settings.DCHWEB_MAX_BUILD_HOSTS_PER_USER
    active = BuildHost.objects.filter(state__in=BuildHost.ACTIVE_STATES)
    if active.filter(owner=actor).count() >= per_user:
        raise BuildHostConflict(
            f"you already have {per_user} build hosts, the most one person may "
            "have: remove one first",
            code="cap_reached",
        )


def _make_room(endpoint, engine_ids) -> None:
    """The endpoint's cap, checked; when it is full, a free pool host gives
    way (its removal sent once the request commits) rather than a request
    the pool does not fit being refused for the pool's sake."""
    try:
        _check_endpoint_cap(endpoint, engine_ids)
    except BuildHostConflict:
        freed = pool.give_way(endpoint)
        if freed is None:
            raise
        _check_endpoint_cap(endpoint, engine_ids, giving_way={freed})
        enqueue_on_commit(tasks.remove_build_host, freed)


def _check_endpoint_cap(endpoint, engine_ids, giving_way=frozenset()) -> None:
    """Engine truth plus what is being provisioned, against the endpoint's
    cap (pool hosts count: they hold a place; one `giving_way` does not)."""
    active = BuildHost.objects.filter(state__in=BuildHost.ACTIVE_STATES)
    on_endpoint = {
        str(pk) for pk in active.filter(endpoint=endpoint).values_list("pk", flat=True)
    }
    if engine_ids is not None:
        starting = active.filter(
            endpoint=endpoint,
            state__in=BuildHost.WAITING_STATES,
        ).values_list("pk", flat=True)
        on_endpoint = (engine_ids - {""}) | {str(pk) for pk in starting}
    on_endpoint -= giving_way
    if len(on_endpoint) >= endpoint.max_build_hosts:
        raise BuildHostConflict(
            f"endpoint {endpoint.name} already runs {len(on_endpoint)} build hosts, "
            f"its cap: remove one or try another endpoint",
            code="cap_reached",
        )


def _save_new(actor, wanted, key, fingerprint, reason="") -> BuildHost:
    now = timezone.now()
    host = BuildHost.objects.create(
        owner=actor,
        endpoint=wanted["endpoint"],
        name=wanted["name"],
        image=wanted["image"],
        disk_gb=wanted["disk_gb"],
        volume_policy=wanted["volume_policy"],
        keep_days=wanted["keep_days"],
        idle_minutes=wanted["idle_minutes"],
        created_at=now,
        expires_at=now + wanted["ttl"],
        **lifetime.first_lease(wanted["lease_seconds"], now),
        idempotency_key=key,
        request_fingerprint=fingerprint if key else "",
        placement=reason,
    )
    host.registries.set(wanted["registries"])
    return host


def _describe(host) -> dict:
    return {
        "name": host.name,
        "endpoint": host.endpoint.name,
        "image": host.image,
        "volume_policy": host.policy_label,
        "expires_at": host.expires_at.isoformat(),
        "lease_seconds": host.lease_seconds,
        "from_pool": host.from_pool,
    }


# --- Extending and removing ------------------------------------------------------


@transaction.atomic
def extend(actor, host: BuildHost, minutes, *, source=None, request=None):
    """Push the host's expiry `minutes` further (from now, if it has passed)."""
    minutes = _int({"minutes": minutes}, "minutes", 60, 1, BuildHost.MAX_EXTEND_MINUTES)
    host = BuildHost.objects.select_for_update().get(pk=host.pk)
    if not host.can_extend:
        raise BuildHostConflict(f"a {host.state} build host cannot be extended")
    start = max(host.expires_at, timezone.now())
    host.expires_at = start + timedelta(minutes=minutes)
    # A new expiry deserves its own notice (build_host.expiring).
    host.expiry_notified_at = None
    host.save(update_fields=["expires_at", "expiry_notified_at", "updated_at"])
    audit.record(
        actor,
        "build_host.extended",
        host,
        {"minutes": minutes, "expires_at": host.expires_at.isoformat()},
        source=source,
        request=request,
    )
    return host


def heartbeat(actor, host: BuildHost) -> BuildHost:
    """The lease holder is alive: the lease runs `lease_seconds` from now.
    Not audited: a CI job calls it every few seconds, and only its absence
    changes anything (the lapse is audited, hosts/buildhosts/lifetime.py)."""
    with transaction.atomic():
        host = BuildHost.objects.select_for_update().get(pk=host.pk)
        if not host.lease_seconds:
            raise BuildHostConflict(
                f"build host {host.name} has no lease: it was created without "
                "lease_seconds, so it lives until it expires",
                code="no_lease",
            )
        if host.state not in lifetime.LEASED_STATES:
            raise BuildHostConflict(
                f"build host {host.name} is {host.get_state_display().lower()}: "
                "its lease can no longer be renewed; create a new host",
                code="lease_ended",
            )
        host.lease_expires_at = timezone.now() + timedelta(seconds=host.lease_seconds)
        host.save(update_fields=["lease_expires_at", "updated_at"])
    return host


def request_stop(actor, host: BuildHost, *, source=None, request=None) -> BuildHost:
    """Stop a ready host now (its owner or an admin), as an idle one is
    stopped: container stopped, volumes kept, resumable, its place in the
    owner's count freed. Asked twice, it stops once."""
    with transaction.atomic():
        host = BuildHost.objects.select_for_update().get(pk=host.pk)
        if host.state == BuildHost.State.STOPPED or host.is_stopping:
            return host
        if host.state != BuildHost.State.READY:
            raise BuildHostConflict(_not_stoppable(host), code="not_ready")
        host.step = BuildHost.STOP_STEP
        host.save(update_fields=["step", "updated_at"])
        audit.record(
            actor, "build_host.stop_requested", host, {}, source=source, request=request
        )
        enqueue_on_commit(
            tasks.stop_build_host, str(host.pk), actor.get_username() if actor else ""
        )
    return host


def _not_stoppable(host) -> str:
    if host.state == BuildHost.State.BUSY:
        return "a build runs on the build host: stop it when the build has ended"
    return f"the build host is {host.state}: only a ready build host can be stopped"


def request_resume(actor, host: BuildHost, *, source=None, request=None) -> BuildHost:
    """Start a stopped host again (its owner or an admin): a worker starts its
    container and waits for its API. A resume under way is the answer: a
    second click starts no second one. It takes its owner's place again, so
    the per-user cap applies."""
    with transaction.atomic():
        host = BuildHost.objects.select_for_update().get(pk=host.pk)
        if host.state != BuildHost.State.STOPPED:
            raise BuildHostConflict(_not_resumable(host), code="not_stopped")
        if host.is_resuming:
            return host
        _check_owner_cap(host.owner, resuming=True)
        host.step = BuildHost.RESUME_STEPS[0]
        host.error, host.error_reason = "", ""
        host.save(update_fields=["step", "error", "error_reason", "updated_at"])
        audit.record(
            actor,
            "build_host.resume_requested",
            host,
            {},
            source=source,
            request=request,
        )
        enqueue_on_commit(tasks.resume_build_host, str(host.pk))
    return host


def _not_resumable(host) -> str:
    if host.is_running:
        return "the build host is running already: only a stopped one can be resumed"
    return f"the build host is {host.state}: only a stopped build host can be resumed"


def _check_owner_cap(owner, *, resuming=False) -> None:
    """A stopped host frees its owner's place; resuming one takes it again
    (counting the other resumes under way)."""
    per_user = settings.DCHWEB_MAX_BUILD_HOSTS_PER_USER
    held = Q(state__in=BuildHost.ACTIVE_STATES)
    if resuming:
        held |= Q(state=BuildHost.State.STOPPED, step__in=BuildHost.RESUME_STEPS)
    if BuildHost.objects.filter(held, owner=owner).count() >= per_user:
        raise BuildHostConflict(
            f"{owner.get_username()} already has {per_user} running build hosts, "
            "the most one person may have: remove or wait for one first",
            code="cap_reached",
        )


def request_removal(
    actor, host: BuildHost, volumes=None, *, source=None, request=None
) -> BuildHost:
    """Mark the host for removal and enqueue the work; `volumes` is "delete",
    "keep" or None (the host's policy decides). Asking twice is harmless."""
    delete_volumes = _delete_volumes(host, volumes)
    with transaction.atomic():
        host, marked = provisioning.mark_for_removal(
            actor, host, delete_volumes, source=source, request=request
        )
        if marked:
            enqueue_on_commit(tasks.remove_build_host, str(host.pk))
    return host


def _delete_volumes(host, volumes) -> bool:
    if volumes in (None, ""):
        return host.policy_deletes_volumes
    if volumes not in ("delete", "keep"):
        raise BuildHostInvalid('volumes is "delete" or "keep"', "volumes")
    return volumes == "delete"


def expires_soon(host, now=None) -> bool:
    now = now or timezone.now()
    return host.is_running and host.expires_at - now <= EXPIRY_WARNING


def tls_bundle(host: BuildHost) -> bytes:
    """The owner's `docker --tlsverify` files as a zip: ca.pem, cert.pem, key.pem."""
    if not host.owner_cert_pem:
        raise BuildHostConflict(
            "this build host has no TLS bundle yet: it is made during provisioning"
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("ca.pem", host.ca_pem)
        bundle.writestr("cert.pem", host.owner_cert_pem)
        bundle.writestr("key.pem", host.get_secret("owner_key"))
    return buffer.getvalue()


# --- Inside a build host: what its engine holds; trimming it ------------------------


class BuildHostUnreachable(Unavailable):
    """The build host's own engine did not answer dchweb (503); `reason` is
    the engine's failure in one word, `engine_message` its own words."""

    code = "engine_unavailable"

    def __init__(self, error: engine.EngineError):
        super().__init__(f"the build host's engine did not answer: {error.message}")
        self.reason = error.reason
        self.engine_message = error.message


def look_inside(host: BuildHost) -> engine.Inside:
    """Its containers, images and disk use, read now from its engine over
    dchweb's mutual TLS (a short timeout: someone is waiting)."""
    if not host.is_running or not host.docker_host:
        raise BuildHostConflict(
            f"the build host is {host.state}: only a running build host can be "
            "looked into",
            code="not_running",
        )
    if not host.client_cert_pem:
        raise BuildHostConflict(
            "dchweb holds no client certificate for this build host (it was "
            "adopted from the engine), so it cannot open its API",
            code="no_certificate",
        )
    try:
        return inside.read(host)
    except engine.EngineError as error:
        raise BuildHostUnreachable(error) from error


def request_trim(actor, host: BuildHost, *, source=None, request=None) -> BuildHostStep:
    """Start pruning the host's dangling images and build cache (a `trim`
    step on its timeline). A trim already running is the answer: a second
    click starts no second one."""
    with transaction.atomic():
        host = BuildHost.objects.select_for_update().get(pk=host.pk)
        if host.state != BuildHost.State.READY:
            raise BuildHostConflict(_not_trimmable(host), code="not_ready")
        step = inside.running_trim(host)
        if step is not None:
            return step
        step = inside.start_trim(host)
        audit.record(
            actor,
            "build_host.trim_requested",
            host,
            {"step_id": step.pk},
            source=source,
            request=request,
        )
        enqueue_on_commit(tasks.trim_build_host, str(host.pk), step.pk)
    return step


def _not_trimmable(host) -> str:
    if host.state == BuildHost.State.BUSY:
        return "the build host is busy with a build: trim it once the build has ended"
    return f"the build host is {host.state}: only a ready build host can be trimmed"


def last_trim(host: BuildHost) -> BuildHostStep | None:
    """The host's latest trim, with `reclaimed_bytes` (None until it is done)."""
    step = inside.latest_trim(host)
    if step is not None:
        step.reclaimed_bytes = inside.reclaimed_bytes(step)
        step.running = step == inside.running_trim(host)
    return step
