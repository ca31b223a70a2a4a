"""Provisioning and removal of build hosts: the engine work, step by step.

Each step is recorded (start, end, attempt, error) and is safe to run again:
a task redelivered after its worker died reruns every step and each one finds
its own earlier work (a 409 on create is inspected, a 404 on remove is done).
One worker works on a host at a time, under a lease in the host's row.
"""

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from ipaddress import ip_address

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hosts import engine
from hosts.core import audit, installation, leases, queue
from hosts.core.connections import connection_for
from hosts.lib import x509
from hosts.models import (
    AuditEvent,
    Build,
    BuildHost,
    BuildHostImage,
    BuildHostStep,
    Registry,
)
from hosts.notifications import outbox, payloads
from hosts.volumes import caches, ledger

logger = logging.getLogger(__name__)

STEPS = (
    "pull_image",
    "create_volumes",
    "create_container",
    "inject_certs",
    "start",
    "wait_ready",
    "verify_registry",
)
ROLES = ("docker-data", "certs")
MOUNTS = {"docker-data": "/var/lib/docker", "certs": "/certs"}
CERTS_VOLUME_GB = 1
# Longer than any one step takes; refreshed at every step.
LEASE = timedelta(minutes=10)
PING_INTERVAL_SECONDS = 0.25
SYSTEM = AuditEvent.Source.TASK

# Outcomes a task acts on.
DONE = "done"
LEASE_BUSY = "lease_busy"
SKIPPED = "skipped"


class StepFailed(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class _Run:
    """One worker's pass over one host."""

    host: BuildHost
    worker: str
    connection: engine.Connection
    lease_renewed: float = 0.0
    # Earlier attempts at each step (a resumed run), read once.
    attempts: Counter = field(default_factory=Counter)

    @classmethod
    def taken(cls, host, worker):
        """A pass over `host`, whose lease `worker` has just taken."""
        return cls(
            host,
            worker,
            connection_for(host.endpoint),
            lease_renewed=time.monotonic(),
            attempts=Counter(host.steps.values_list("name", flat=True)),
        )


def _renew_lease(run):
    """Renewed when half of it has gone: a step never outlives it."""
    if time.monotonic() - run.lease_renewed > LEASE.total_seconds() / 2:
        take_lease(run.host.pk, run.worker)
        run.lease_renewed = time.monotonic()


# --- Leases -------------------------------------------------------------------------


def take_lease(build_host_id, worker: str) -> bool:
    return leases.take(BuildHost, build_host_id, worker, LEASE)


def release_lease(build_host_id, worker: str) -> None:
    leases.release(BuildHost, build_host_id, worker)


def interrupted(now=None, grace=timedelta(0)):
    """Hosts whose provisioning or removal nobody is working on (untouched for
    `grace`: a task may simply still wait in the queue)."""
    now = now or timezone.now()
    return BuildHost.objects.filter(
        leases.unowned(now),
        updated_at__lte=now - grace,
        state__in=(*BuildHost.WAITING_STATES, BuildHost.State.REMOVING),
    )


# --- Provisioning -----------------------------------------------------------------


def provision(build_host_id, worker: str) -> str:
    """Run every step; on a failure roll back and mark the host failed. The
    steps share one client per engine (one TLS handshake each, not one per
    call)."""
    with engine.reusing_clients():
        return _provision(build_host_id, worker)


def _provision(build_host_id, worker: str) -> str:
    # The endpoint and the owner with it: every pass reads both.
    found = BuildHost.objects.select_related("endpoint", "owner")
    host = found.filter(pk=build_host_id).first()
    if host is None or host.state not in BuildHost.WAITING_STATES:
        return SKIPPED
    if not take_lease(host.pk, worker):
        return LEASE_BUSY
    run = _Run.taken(host, worker)
    if run.attempts:  # a pass before this one: it may have left a step running
        _close_interrupted_steps(host)
    try:
        _set(host, state=BuildHost.State.PROVISIONING, error="", error_reason="")
        for name in STEPS:
            if not _run_step(run, name, _STEP_FUNCTIONS[name]):
                return SKIPPED  # a removal was asked for meanwhile
        _mark_ready(host)
    except StepFailed as failure:
        _fail(run, failure)
    finally:
        release_lease(host.pk, worker)
    return DONE


INTERRUPTED = "interrupted"


def _close_interrupted_steps(host) -> None:
    """A step still "running" when its host's lease is free again was left by
    a worker that died in it (killed, its machine lost): with the lease now
    ours, nobody runs it. It ends as failed, so the timeline does not show a
    step running forever beside the new attempt."""
    host.steps.filter(status=BuildHostStep.Status.RUNNING).update(
        status=BuildHostStep.Status.FAILED,
        finished_at=timezone.now(),
        reason=INTERRUPTED,
        error="the worker running this step stopped before it finished",
    )


def _start_step(run, name) -> BuildHostStep | None:
    """The step's row and the host's current step, in one transaction; None
    when the host has left the state this pass runs in (a removal was asked
    for while it provisioned)."""
    host = run.host
    _renew_lease(run)
    with transaction.atomic():
        still = BuildHost.objects.filter(pk=host.pk, state=host.state).update(
            step=name, updated_at=timezone.now()
        )
        if not still:
            return None
        run.attempts[name] += 1
        step = BuildHostStep.objects.create(
            build_host=host, name=name, attempt=run.attempts[name]
        )
    host.step = name
    logger.info("step %s: started (attempt %d)", name, step.attempt)
    return step


def _run_step(run, name, function) -> bool:
    """Run one step and record how it ended; False when it did not start
    (_start_step). A failure raises StepFailed."""
    step = _start_step(run, name)
    if step is None:
        return False
    try:
        detail = function(run) or ""
    except engine.EngineError as error:
        step.finish(
            BuildHostStep.Status.FAILED, error=error.message, reason=error.reason
        )
        logger.warning("step %s: failed (%s): %s", name, error.reason, error.message)
        raise StepFailed(error.reason, error.message) from error
    except StepFailed as failure:
        step.finish(
            BuildHostStep.Status.FAILED, error=failure.message, reason=failure.reason
        )
        logger.warning(
            "step %s: failed (%s): %s", name, failure.reason, failure.message
        )
        raise
    except Exception as error:
        logger.exception("build host %s: step %s crashed", run.host.pk, name)
        message = f"dchweb failed at this step: {type(error).__name__}: {error}"
        step.finish(BuildHostStep.Status.FAILED, error=message, reason="internal")
        raise StepFailed("internal", message) from error
    step.finish(BuildHostStep.Status.DONE, detail=detail)
    logger.info("step %s: done %s", name, detail)
    return True


def _set(host, **changes):
    for name, value in changes.items():
        setattr(host, name, value)
    host.save(update_fields=[*changes, "updated_at"])


def _mark_ready(host):
    with transaction.atomic():
        _set(host, state=BuildHost.State.READY, step="", ready_at=timezone.now())
        audit.record(
            None,
            "build_host.ready",
            host,
            {"docker_host": host.docker_host},
            source=SYSTEM,
        )
        _tell_owner(host, "build_host.ready")


def _fail(run, failure):
    host = run.host
    rollback_error = _rollback(run)
    message = failure.message
    if rollback_error:
        message += (
            f" (clean-up incomplete, the reconciler retries it: {rollback_error})"
        )
    with transaction.atomic():
        _set(
            host,
            state=BuildHost.State.FAILED,
            error=message,
            error_reason=failure.reason,
        )
        audit.record(
            None,
            "build_host.failed",
            host,
            {"step": host.step, "reason": failure.reason, "error": message},
            source=SYSTEM,
        )
        _tell_owner(host, "build_host.failed")


def _rollback(run) -> str:
    """Remove what this host made: the container always, the volumes unless
    the policy keeps them. Returns what could not be undone ("" if all)."""
    host = run.host
    if not host.steps.exclude(name="pull_image").exists():
        return ""  # nothing was made on the engine yet
    step = BuildHostStep.objects.create(build_host=host, name="rollback")
    try:
        engine.remove_container(run.connection, host.container_name)
        detail = _rollback_volumes(run)
    except engine.EngineError as error:
        step.finish(
            BuildHostStep.Status.FAILED, error=error.message, reason=error.reason
        )
        return error.message
    step.finish(BuildHostStep.Status.DONE, detail=detail)
    _set(host, container_id="", port=None)
    return ""


def _rollback_volumes(run) -> str:
    """A cache is never deleted by a rollback: kept (and given back) as the
    owner's cache, like a removal does; other volumes go by the policy."""
    host = run.host
    if caches.keeps_cache(host):
        return _keep_cache(run)
    if not host.policy_deletes_volumes:
        return "volumes kept"
    for name in host.volume_names:
        engine.remove_volume(run.connection, name)
    ledger.note_build_host_volumes(host, "gone")
    return ""


# --- The steps ----------------------------------------------------------------------


def _pull_image(run):
    host = run.host
    engine.pull_image(run.connection, host.image, auth=_auth_for_image(host.image))
    return host.image


def _auth_for_image(image):
    """The login of the registry the image comes from, if dchweb knows it."""
    first = image.split("/", 1)[0]
    if "/" not in image or not ("." in first or ":" in first or first == "localhost"):
        return None
    registry = Registry.objects.filter(address=first).first()
    return registry.auth_config() if registry is not None else None


def _create_volumes(run):
    host = run.host
    vic = host.endpoint.flavor == host.endpoint.Flavor.VIC
    cache_words = _check_cache(run)
    # One look-up of the installation id and the owner for both volumes.
    common = labels(host)
    for role in ROLES:
        if role == "docker-data" and host.cache_volume:
            continue  # the owner's cache, mounted as it is
        options = None
        if vic:
            size = host.disk_gb if role == "docker-data" else CERTS_VOLUME_GB
            options = {
                "Capacity": f"{size}GB",
                "VolumeStore": host.endpoint.volume_store,
            }
        engine.create_volume(
            run.connection,
            host.volume_name(role),
            {**common, "io.dchweb.role": role},
            options,
        )
    ledger.note_build_host_volumes(host, "attached")
    if host.cache_volume:
        return (
            f"{host.volume_name('certs')}; data: your build cache {host.cache_volume}"
        )
    return "; ".join(filter(None, [", ".join(host.volume_names), cache_words]))


def _check_cache(run) -> str:
    """The cache the host is to start on must still be on the engine; gone
    (removed behind dchweb's back), the host gets a data volume of its own
    and its timeline says why ("" when nothing was to check)."""
    host = run.host
    if not host.cache_volume or engine.volume_exists(run.connection, host.cache_volume):
        return ""
    return caches.vanished(host)


def labels(host, role=None) -> dict[str, str]:
    """design.md §2: on the container and on every volume it uses."""
    found = {
        "io.dchweb.managed": "true",
        "io.dchweb.installation": installation.installation_id(),
        "io.dchweb.build-host": str(host.pk),
        # "" on a pool host, and so for good once it is claimed: the ledger,
        # the caps and the reconciler read a claimed host's owner from the
        # database.
        "io.dchweb.owner": host.owner.get_username() if host.owner_id else "",
    }
    if role:
        found["io.dchweb.role"] = role
    return found


def _create_container(run):
    host = run.host
    endpoint = host.endpoint
    vic = endpoint.flavor == endpoint.Flavor.VIC
    spec = engine.ContainerSpec(
        name=host.container_name,
        image=host.image,
        command=["-tlsverify"],
        labels=labels(host),
        binds={host.volume_name(role): MOUNTS[role] for role in ROLES},
        publish_tls_port=True,
        host_ip=publish_address(endpoint.publish_host),
        network=endpoint.network,
        dind=not vic,
    )
    container_id = engine.create_container(run.connection, spec)
    _set(host, container_id=container_id)
    return container_id[:12]


def publish_address(publish_host: str) -> str:
    """The host address the TLS port is bound to: a loopback publish host
    keeps it on loopback; anything else publishes on every address."""
    try:
        return publish_host if ip_address(publish_host).is_loopback else ""
    except ValueError:
        return ""


def _inject_certs(run):
    host = run.host
    server_cert, server_key = _server_certificate(host)
    files = {
        "/certs/ca.crt": host.ca_pem.encode(),
        # dch-photon replaces all six files if one is missing; this one must
        # not be a real key, so the host can never issue certificates itself.
        "/certs/ca-key.pem": b"not a key: dchweb keeps this build host's CA key\n",
        "/certs/docker.crt": server_cert.encode(),
        "/certs/docker.key": server_key.encode(),
        "/certs/docker-client.crt": host.client_cert_pem.encode(),
        "/certs/docker-client.key": host.get_secret("client_key").encode(),
    }
    copied, embedded = [], []
    in_image = BuildHostImage.objects.embedded_registry_ids(host.image)
    for registry in host.registries.exclude(ca_pem=""):
        if registry.pk in in_image:
            embedded.append(registry.address)
            continue
        path = f"/etc/docker/certs.d/{registry.address}/ca.crt"
        files[path] = registry.ca_pem.encode()
        copied.append(registry.address)
    engine.put_files(run.connection, host.container_id, files)
    detail = "registry CAs copied: " + (", ".join(copied) or "none")
    if embedded:
        detail += "; embedded in the image: " + ", ".join(embedded)
    return detail


def _ensure_certificates(host):
    """The host's own CA, its server certificate (kept only until copied in)
    and two client certificates: dchweb's and the owner's (a pool host has
    no owner yet: its claim issues theirs, hosts/buildhosts/pool.py)."""
    if host.ca_pem:
        ca = x509.Issuer(host.ca_pem, host.get_secret("ca_key"))
    else:
        ca = x509.new_build_host_ca(f"dchweb build host {host.short_id}")
        client_cert, client_key = x509.issue_client_certificate("dchweb", ca=ca)
        host.ca_pem, host.client_cert_pem = ca.cert_pem, client_cert
        if host.owner_id:
            owner_cert, owner_key = x509.issue_client_certificate(
                host.owner.get_username(), ca=ca
            )
            host.owner_cert_pem = owner_cert
            host.set_secret("owner_key", owner_key)
        host.set_secret("ca_key", ca.key_pem)
        host.set_secret("client_key", client_key)
        # Only these fields: a full save would write back a stale lease.
        host.save(
            update_fields=[
                "ca_pem",
                "ca_key_encrypted",
                "owner_cert_pem",
                "owner_key_encrypted",
                "client_cert_pem",
                "client_key_encrypted",
                "updated_at",
            ]
        )
    return ca


def _server_certificate(host):
    ca = _ensure_certificates(host)
    publish_host = host.endpoint.publish_host
    try:
        ips, names = [str(ip_address(publish_host))], []
    except ValueError:
        ips, names = [], [publish_host]
    return x509.issue_server_certificate(
        host.container_name,
        dns_names=[*names, host.container_name],
        ip_addresses=ips,
        ca=ca,
    )


def _start(run):
    host = run.host
    engine.start_container(run.connection, host.container_id)
    status = engine.container_status(run.connection, host.container_id)
    if status.port is None:
        raise StepFailed(
            "no_port", "the engine published no port for the build host's TLS API"
        )
    _set(host, port=status.port)
    return host.docker_host


def host_connection(host, timeout=engine.DEFAULT_TIMEOUT_SECONDS) -> engine.Connection:
    """dchweb's own mutual-TLS connection to a build host's engine."""
    return engine.Connection(
        docker_url=host.docker_host,
        tls_mode="tlsverify",
        ca_pem=host.ca_pem,
        client_cert_pem=host.client_cert_pem,
        client_key_pem=host.get_secret("client_key"),
        timeout=timeout,
    )


def _wait_ready(run):
    return wait_answering(run.connection, run.host)


def wait_answering(connection, host) -> str:
    """Wait until the host's engine answers /_ping over mutual TLS (after a
    start: provisioning's, or a resume's). Raises engine.EngineError: the
    container exited (`host_exited`, with its last output), or no answer
    within DCHWEB_READY_TIMEOUT_SECONDS (`not_ready`)."""
    deadline = time.monotonic() + settings.DCHWEB_READY_TIMEOUT_SECONDS
    inside = host_connection(host, timeout=3)
    last = ""
    while time.monotonic() < deadline:
        # The ping first: once the engine listens, it waits in the handshake
        # until the engine serves, and answers. Only a ping that failed asks
        # whether the container is still running.
        try:
            if engine.ping(inside):
                return "answered /_ping over mutual TLS"
        except engine.EngineError as error:
            last = error.message
        _raise_if_exited(connection, host)
        time.sleep(PING_INTERVAL_SECONDS)
    raise engine.EngineError(
        f"the build host did not answer over mutual TLS within "
        f"{settings.DCHWEB_READY_TIMEOUT_SECONDS} s: {last or 'no answer'}",
        reason="not_ready",
    )


def _raise_if_exited(connection, host) -> None:
    status = engine.container_status(connection, host.container_id)
    if status.state in ("exited", "dead"):
        raise engine.EngineError(
            f"the build host stopped (exit code {status.exit_code}): "
            f"{status.log_tail.strip()[-500:] or 'no output'}",
            reason="host_exited",
        )


def _verify_registry(run):
    host = run.host
    connection = host_connection(host, timeout=30)
    verified = []
    for registry in host.registries.all():
        if not registry.username:
            continue
        result = engine.registry_login(
            connection, registry.address, registry.username, registry.get_password()
        )
        if not result.ok:
            raise StepFailed(
                result.reason, f"registry {registry.address}: {result.message}"
            )
        verified.append(registry.address)
    return "logged in to " + (", ".join(verified) or "no registry (none with a login)")


_STEP_FUNCTIONS = {
    "pull_image": _pull_image,
    "create_volumes": _create_volumes,
    "create_container": _create_container,
    "inject_certs": _inject_certs,
    "start": _start,
    "wait_ready": _wait_ready,
    "verify_registry": _verify_registry,
}


# --- Removal ------------------------------------------------------------------------


def mark_for_removal(
    actor,
    host: BuildHost,
    delete_volumes: bool,
    *,
    action="build_host.removed",
    reason="",
    source=None,
    request=None,
) -> tuple[BuildHost, bool]:
    """Mark the host `removing` (its volumes deleted or kept) and audit it,
    with `reason` in words when nobody asked (a lapsed lease); the caller
    removes it or enqueues its removal. Returns the host and whether it was
    marked now (False: removed or going already)."""
    with transaction.atomic():
        host = BuildHost.objects.select_for_update().get(pk=host.pk)
        if host.state in (BuildHost.State.REMOVED, BuildHost.State.REMOVING):
            return host, False
        was = host.state
        host.state = BuildHost.State.REMOVING
        host.remove_volumes = delete_volumes
        host.save(update_fields=["state", "remove_volumes", "updated_at"])
        audit.record(
            actor,
            action,
            host,
            {
                "volumes": "delete" if delete_volumes else "keep",
                "was": was,
                **({"reason": reason} if reason else {}),
            },
            source=source or (None if request else SYSTEM),
            request=request,
        )
    return host, True


def reap_expired(now=None) -> list[str]:
    """Mark every host past its expiry for removal (volumes by its policy);
    returns their ids for the caller to remove."""
    now = now or timezone.now()
    # A stopped host's time to live runs on: it goes too, volumes by policy.
    expired = BuildHost.objects.filter(
        state__in=(*BuildHost.RUNNING_STATES, BuildHost.State.STOPPED),
        expires_at__lte=now,
    )
    reaped = []
    for host in expired:
        _, marked = mark_for_removal(
            None, host, host.policy_deletes_volumes, action="build_host.reaped"
        )
        if marked:
            reaped.append(str(host.pk))
    return reaped


def remove(build_host_id, worker: str) -> str:
    """Remove the container and, if asked, the volumes; gone already is done."""
    with engine.reusing_clients():
        return _remove(build_host_id, worker)


def _remove(build_host_id, worker: str) -> str:
    host = BuildHost.objects.filter(pk=build_host_id).first()
    if host is None or host.state != BuildHost.State.REMOVING:
        return SKIPPED
    if not take_lease(host.pk, worker):
        return LEASE_BUSY
    _close_interrupted_steps(host)
    run = _Run.taken(host, worker)
    try:
        if not _run_step(run, "remove_container", _remove_container):
            return SKIPPED  # no longer being removed
        if caches.keeps_cache(host):
            _run_step(run, "keep_cache", _keep_cache)
        elif host.remove_volumes:
            _run_step(run, "remove_volumes", _remove_volumes)
        _mark_removed(host)
        if caches.keeps_cache(host) and host.endpoint.pool_size:
            # The endpoint keeps warm hosts on its owners' caches (pool.py):
            # one on this cache now, not at the next periodic pass.
            queue.send_on_commit(queue.REFILL_POOL_TASK, host.endpoint_id)
    except StepFailed as failure:
        # The host stays "removing": the reconciler retries it later.
        _set(
            host,
            error=f"removal failed: {failure.message}",
            error_reason=failure.reason,
        )
    finally:
        release_lease(host.pk, worker)
    return DONE


def _remove_container(run):
    removed = engine.remove_container(run.connection, run.host.container_name)
    return "removed" if removed else "already gone"


def _remove_volumes(run):
    gone = [
        name
        for name in run.host.volume_names
        if engine.remove_volume(run.connection, name)
    ]
    ledger.note_build_host_volumes(run.host, "gone")
    return "removed " + (", ".join(gone) or "nothing (already gone)")


def _keep_cache(run):
    """The data volume stays as the owner's cache (whatever the policy or
    the removal asked for the volumes); the certs volume goes."""
    host = run.host
    data, certs = host.volume_name("docker-data"), host.volume_name("certs")
    engine.remove_volume(run.connection, certs)
    ledger.note_volume_removed(host.endpoint, certs)
    if caches.keep(host):
        return f"{data} kept as your build cache; {certs} removed"
    if not host.cache_volume:
        # Never recorded: made by a provisioning that failed half-way.
        engine.remove_volume(run.connection, data)
        ledger.note_volume_removed(host.endpoint, data)
    return f"{certs} removed; no build cache kept (its data volume was never ready)"


def _mark_removed(host):
    if not host.remove_volumes:
        ledger.note_build_host_volumes(host, "detached")
    kept_until = None
    if (
        not host.remove_volumes
        and host.volume_policy == BuildHost.VolumePolicy.KEEP_DAYS
    ):
        kept_until = timezone.now() + timedelta(days=host.keep_days or 1)
    with transaction.atomic():
        _set(
            host,
            state=BuildHost.State.REMOVED,
            step="",
            removed_at=timezone.now(),
            port=None,
            error="",
            error_reason="",
            volumes_kept_until=kept_until,
        )
        audit.record(
            None,
            "build_host.removal_done",
            host,
            {"volumes": _volumes_afterwards(host)},
            source=SYSTEM,
        )
        _tell_owner(host, "build_host.removed")


def _volumes_afterwards(host) -> str:
    if caches.keeps_cache(host):
        return "data kept as the owner's build cache"
    return "deleted" if host.remove_volumes else "kept"


def _tell_owner(host, event):
    """In the caller's transaction: the owner hears of it only if it sticks.
    A host made for one build is not news: the build's own event says it;
    a pool host nobody has claimed is nobody's news."""
    if host.owner_id is None:
        return
    if Build.objects.filter(build_host=host, ephemeral=True).exists():
        return
    outbox.emit(event, payloads.build_host(event, host), owner=host.owner)
