"""The reconciler (design.md §5): compare the database with each engine.

Per endpoint, one pass at a time (a lease in the endpoint's row). It looks only
at objects labelled as this installation's; it adopts containers it knows by
label but has no row for, marks hosts whose container vanished (after
MISSES_BEFORE_MISSING listings in a row), starts again a ready host's container
that stopped (its engine restarted), removes what is past its TTL or
policy, leaves anything younger than the grace period alone, and does nothing
destructive when the listing failed.
"""

import logging
import uuid
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hosts import engine
from hosts.core import audit, installation
from hosts.core.connections import connection_for
from hosts.lib import logcontext
from hosts.models import AuditEvent, BuildHost, Endpoint
from hosts.volumes import caches

logger = logging.getLogger(__name__)

MISSES_BEFORE_MISSING = 3
LEASE = timedelta(minutes=5)
SYSTEM = AuditEvent.Source.TASK
# Hosts that should have a container on the engine.
# Hosts that should have neither container nor (unless kept) volumes.


def reconcile_all(enqueue) -> int:
    endpoints = Endpoint.objects.enabled()
    count = 0
    for endpoint_id in endpoints.values_list("pk", flat=True):
        enqueue(endpoint_id)
        count += 1
    return count


def reconcile_endpoint(endpoint_id, now=None) -> dict:
    """One pass; returns (and stores on the endpoint) what it found and did."""
    now = now or timezone.now()
    if not _take_lease(endpoint_id, now):
        return {"skipped": "another reconciler is working on this endpoint"}
    try:
        endpoint = Endpoint.objects.get(pk=endpoint_id)
        summary = _reconcile(endpoint, now)
        Endpoint.objects.filter(pk=endpoint_id).update(
            last_reconciled_at=now, reconcile_summary=summary
        )
        return summary
    finally:
        Endpoint.objects.filter(pk=endpoint_id).update(reconcile_lease_until=None)


def _take_lease(endpoint_id, now) -> bool:
    free = Q(reconcile_lease_until__isnull=True) | Q(reconcile_lease_until__lt=now)
    return (
        Endpoint.objects.filter(free, pk=endpoint_id).update(
            reconcile_lease_until=now + LEASE
        )
        == 1
    )


def _reconcile(endpoint, now) -> dict:
    connection = connection_for(endpoint)
    try:
        listing = engine.list_managed(connection, installation.installation_id())
    except engine.EngineError as error:
        # A failed listing says nothing about what exists: touch nothing.
        return {"error": error.message, "database": _database_count(endpoint)}
    containers, volumes = _by_build_host(listing)
    hosts = {
        str(host.pk): host
        for host in BuildHost.objects.filter(
            Q(pk__in=_uuids(containers.keys() | volumes.keys()))
            | Q(endpoint=endpoint, state__in=BuildHost.RUNNING_STATES)
        ).select_related("owner", "endpoint")
    }
    grace = now - timedelta(seconds=settings.DCHWEB_RECONCILE_GRACE_SECONDS)
    done = defaultdict(list)
    for host_id, container in list(containers.items()):
        removed = _container_seen(
            connection, endpoint, hosts.get(host_id), host_id, container, grace, done
        )
        if removed:
            del containers[host_id]  # its volumes may go in this same pass
    for host_id, host in hosts.items():
        if host.state in BuildHost.RUNNING_STATES and host_id not in containers:
            _container_missing(host, grace, done)
    # An owner's cache outlives the host that made it (and labelled it): it
    # is never that host's volume to remove.
    cached = caches.names_on(endpoint)
    for host_id, found in volumes.items():
        found = [volume for volume in found if volume.name not in cached]
        _volumes_seen(
            connection, hosts.get(host_id), found, containers, grace, now, done
        )
    return {
        "database": _database_count(endpoint),
        "engine": len(containers),
        "engine_volumes": sum(len(found) for found in volumes.values()),
        **{key: sorted(value) for key, value in done.items()},
        "error": "",
    }


def _database_count(endpoint) -> int:
    return BuildHost.objects.filter(
        endpoint=endpoint, state__in=BuildHost.RUNNING_STATES
    ).count()


def _by_build_host(listing):
    containers, volumes = {}, defaultdict(list)
    for item in listing:
        host_id = item.labels.get("io.dchweb.build-host", "")
        if not host_id:
            continue
        if item.kind == "container":
            containers[host_id] = item
        else:
            volumes[host_id].append(item)
    return containers, volumes


def _uuids(values):
    found = []
    for value in values:
        try:
            found.append(uuid.UUID(value))
        except ValueError:
            continue
    return found


def _young(item, grace) -> bool:
    return item.created is None or item.created > grace


def _container_seen(connection, endpoint, host, host_id, container, grace, done):
    """Adopt, reset the misses, or finish a removal; True if it removed it."""
    if host is None:
        if not _young(container, grace):
            _adopt(endpoint, host_id, container, done)
        return False
    if host.state in BuildHost.RUNNING_STATES:
        if host.missed_listings:
            BuildHost.objects.filter(pk=host.pk).update(missed_listings=0)
        if container.state != "running" and not _young(container, grace):
            _start_again(connection, host, container, done)
        return False
    if host.state in BuildHost.ENDED_STATES and not _young(container, grace):
        # A removal or a rollback that did not finish: finish it.
        engine.remove_container(connection, container.id)
        done["containers_removed"].append(container.name)
        return True
    return False


def _start_again(connection, host, container, done):
    """A ready host whose container stopped (its engine restarted, or someone
    stopped it by hand) is started again: a build host runs until it is
    removed, and its engine data and certificates are in its volumes. If the
    engine refuses (not merely unreachable), the host is failed with the
    engine's words."""
    try:
        engine.start_container(connection, container.id)
        # The engine may publish the TLS port on another host port this time.
        status = engine.container_status(connection, container.id)
    except (engine.EngineUnreachable, engine.EngineTLSError) as error:
        # The engine went away again since the listing: the next pass retries.
        done["start_again_later"].append(host.name)
        logger.warning("could not start %s again yet: %s", host.name, error.message)
        return
    except engine.EngineError as error:
        with transaction.atomic():
            BuildHost.objects.filter(pk=host.pk).update(
                state=BuildHost.State.FAILED,
                error_reason=error.reason,
                error=(
                    f"its container stopped ({container.state}) and could not be "
                    f"started again: {error.message}"
                ),
            )
            audit.record(
                None, "build_host.lost", host, {"error": error.message}, source=SYSTEM
            )
        done["failed_to_start"].append(host.name)
        return
    if status.port and status.port != host.port:
        BuildHost.objects.filter(pk=host.pk).update(port=status.port)
    audit.record(
        None,
        "build_host.restarted",
        host,
        {"container": container.name, "was": container.state, "port": status.port},
        source=SYSTEM,
    )
    with logcontext.bound(build_host=host.pk):
        logger.info("started again: its container was %s", container.state)
    done["started_again"].append(host.name)


def _adopt(endpoint, host_id, container, done):
    """A labelled container the database has no row for: make it visible (and
    removable) again. Its TLS material is lost with the row. A pool host's
    owner label is "" for good (even once claimed: the database says whose
    it is), so one is never adopted as anyone's: it stays "unowned"."""
    owner = (
        get_user_model()
        .objects.filter(username=container.labels.get("io.dchweb.owner", ""))
        .first()
    )
    try:
        pk = uuid.UUID(host_id)
    except ValueError:
        return
    if owner is None:
        done["unowned"].append(container.name)
        return
    running = container.state == "running"
    with transaction.atomic():
        host = BuildHost.objects.create(
            id=pk,
            name=container.name,
            owner=owner,
            endpoint=endpoint,
            image=container.image,
            state=BuildHost.State.READY if running else BuildHost.State.FAILED,
            container_id=container.id,
            port=container.port,
            adopted=True,
            error=(
                "adopted from the engine: dchweb lost its record and this host's "
                "TLS keys; remove it and create a new one to use it"
            ),
            error_reason="adopted",
            expires_at=timezone.now()
            + timedelta(minutes=BuildHost.DEFAULT_TTL_MINUTES),
        )
        audit.record(
            None,
            "build_host.adopted",
            host,
            {"container": container.name, "state": container.state},
            source=SYSTEM,
        )
    done["adopted"].append(container.name)


def _container_missing(host, grace, done):
    if (host.ready_at or host.created_at) > grace:
        return
    misses = host.missed_listings + 1
    if misses < MISSES_BEFORE_MISSING:
        BuildHost.objects.filter(pk=host.pk).update(missed_listings=misses)
        return
    with transaction.atomic():
        BuildHost.objects.filter(pk=host.pk).update(
            missed_listings=misses,
            state=BuildHost.State.FAILED,
            error_reason="missing",
            error=(
                f"the container vanished from the engine ({misses} listings in a "
                "row did not show it)"
            ),
        )
        audit.record(
            None, "build_host.missing", host, {"misses": misses}, source=SYSTEM
        )
    done["missing"].append(host.name)


def _volumes_seen(connection, host, found, containers, grace, now, done):
    """Remove a host's volumes only when its policy says they are due."""
    if host is None or str(host.pk) in containers or not _volumes_due(host, now):
        return
    for volume in found:
        if _young(volume, grace):
            continue
        try:
            engine.remove_volume(connection, volume.name)
        except engine.EngineConflict:
            done["volumes_in_use"].append(volume.name)
            continue
        done["volumes_removed"].append(volume.name)


def _volumes_due(host, now) -> bool:
    if host.state not in BuildHost.ENDED_STATES:
        return False
    if host.policy_deletes_volumes:
        # A failed rollback or removal left them behind.
        return host.state == BuildHost.State.FAILED or host.remove_volumes is not False
    if host.state == BuildHost.State.REMOVED and host.remove_volumes:
        return True
    return host.volumes_kept_until is not None and host.volumes_kept_until <= now
