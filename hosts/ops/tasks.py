"""Celery tasks that span the domains: the worker's heartbeat, the periodic
pass that takes up interrupted work and reconciles each endpoint, and what a
restarted worker does first. Task names stay `hosts.tasks.<name>`."""

import logging
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.db.models import Q

from hosts.buildhosts import lifetime, provisioning, reconciler
from hosts.buildhosts import tasks as buildhost_tasks
from hosts.builds import runner
from hosts.builds import tasks as build_tasks
from hosts.certificates import expiry
from hosts.core import leases
from hosts.deployments import tasks as deployment_tasks
from hosts.endpoints import tasks as endpoint_tasks
from hosts.models import (
    Build,
    BuildHost,
    CleanupPlan,
    Deployment,
    Endpoint,
    free_pool_q,
)
from hosts.notifications import tasks as notification_tasks
from hosts.ops import health
from hosts.registries import tasks as registry_tasks
from hosts.volumes import cleanup
from hosts.volumes import tasks as volume_tasks

logger = logging.getLogger(__name__)
# A host untouched this long while "requested" has lost its task (a broker
# restart, say); younger ones may just be waiting in the queue.
QUEUE_GRACE = timedelta(seconds=60)


@shared_task(bind=True, name="hosts.tasks.record_heartbeat")
def record_heartbeat(self, note: str) -> int:
    """Write a `worker.heartbeat` audit event: proves web → broker → worker → DB."""
    event = health.record_heartbeat(note, hostname=self.request.hostname)
    return event.pk


@shared_task(name="hosts.tasks.reconcile_endpoints")
def reconcile_endpoints() -> int:
    """Periodic (beat): resume interrupted work, reap expired hosts, and one
    reconcile task per enabled endpoint."""
    resume_interrupted(grace=QUEUE_GRACE)
    reap_expired_hosts()
    # Reading each running host's activity takes a call per host: a task of
    # its own, so the endpoints' reconcilers do not wait for it.
    buildhost_tasks.stop_idle_build_hosts.delay()
    # At the reconciler's interval: a lease lapses within lease + one pass.
    reap_lapsed_leases()
    lifetime.notify_expiring()
    # Webhook retries that are due, and tries whose sender died.
    notification_tasks.resume_deliveries()
    # Notifications whose task was lost, and mails to try again.
    notification_tasks.resume_notifications()
    expiry.announce_expiring()
    end_cleanup_notices()
    # Owners' build caches over their budget: the least recently used go.
    volume_tasks.evict_caches.delay()
    # A registry or endpoint added since the last pass: its first checks.
    registry_tasks.check_unchecked_registries.delay()
    refill_pools()
    return reconciler.reconcile_all(buildhost_tasks.reconcile_endpoint.delay)


def refill_pools() -> int:
    """One refill per endpoint with a warm pool, or with free pool hosts
    left (a pool made smaller, an endpoint disabled): it replaces the
    hosts reaped for age, failed or gone, and removes the surplus."""
    waiting = (*BuildHost.WAITING_STATES, BuildHost.State.READY)
    with_pool = Endpoint.objects.filter(
        Q(pool_size__gt=0)
        | (free_pool_q("build_hosts__") & Q(build_hosts__state__in=waiting))
    ).distinct()
    count = 0
    for endpoint_id in with_pool.values_list("pk", flat=True):
        buildhost_tasks.refill_pool.delay(endpoint_id)
        count += 1
    return count


def reap_expired_hosts() -> int:
    """Mark every host past its expiry for removal and enqueue the removals."""
    reaped = provisioning.reap_expired()
    for host_id in reaped:
        buildhost_tasks.remove_build_host.delay(host_id)
    return len(reaped)


def reap_lapsed_leases(now=None) -> int:
    """Mark every host whose holder stopped heartbeating for removal and
    enqueue the removals."""
    reaped = lifetime.reap_lapsed_leases(now)
    for host_id in reaped:
        buildhost_tasks.remove_build_host.delay(host_id)
    return len(reaped)


def end_cleanup_notices(now=None) -> int:
    """Clean-up plans whose notice to the owners ended: carried out now,
    kept volumes left alone."""
    ended = cleanup.end_notices(now)
    for plan_id in ended:
        volume_tasks.execute_cleanup.delay(plan_id)
    return len(ended)


def resume_interrupted(grace=timedelta(0)) -> int:
    """Enqueue the work nobody does: clean-up plans, deployments and builds
    left unfinished, and every host whose provision or removal stopped."""
    waiting = [
        (volume_tasks.execute_cleanup, cleanup.interrupted_plans(grace=grace)),
        (deployment_tasks.deploy, Deployment.objects.waiting(grace)),
        (build_tasks.run_build, runner.interrupted(grace=grace)),
        (
            buildhost_tasks.provision_build_host,
            provisioning.interrupted(grace=grace).exclude(
                state=BuildHost.State.REMOVING
            ),
        ),
        (
            buildhost_tasks.remove_build_host,
            provisioning.interrupted(grace=grace).filter(
                state=BuildHost.State.REMOVING
            ),
        ),
    ]
    count = 0
    for task, rows in waiting:
        for pk in rows.values_list("pk", flat=True):
            task.delay(pk if isinstance(pk, int) else str(pk))
            count += 1
    return count


@worker_ready.connect
def _resume_after_restart(sender=None, **_):
    """A worker restarted after it was killed: what its previous life was
    provisioning or removing is taken up at once, not when leases expire."""
    node = getattr(sender, "hostname", "") or ""
    try:
        released = sum(
            leases.release_node(model, node)
            for model in (BuildHost, Build, CleanupPlan)
            if node
        )
        resumed = resume_interrupted()
    except Exception:
        # A worker must start even when the database is briefly away; the
        # periodic reconciler resumes the work then.
        logger.exception("could not resume interrupted build-host work")
        return
    if released or resumed:
        logger.info("resumed %d build hosts (%d leases released)", resumed, released)


@worker_ready.connect
def _first_look(sender=None, **_):
    """The dashboard starts: every endpoint probed and every registry checked
    now, not at the beat's first run (a minute, an hour later), so the pages
    do not call a working engine "Off" or a registry "not checked"."""
    try:
        endpoint_tasks.probe_endpoints.delay()
        registry_tasks.check_registry_trust.delay()
        registry_tasks.check_unchecked_registries.delay()
    except Exception:
        # A broker away at start: the periodic pass does the same later.
        logger.exception("could not enqueue the first probes and checks")
