"""Celery tasks: thin wrappers that take ids or primitives and call services.

Enqueue with `task.delay_on_commit(...)` (or from `transaction.on_commit`)
from code inside a transaction, so a worker never looks for a row that is not
committed yet. Every task here is safe to run twice.
"""

import logging
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hosts import logcontext, probes, registries, services

logger = logging.getLogger(__name__)
# A removal waits for a provision still holding the host's lease.
LEASE_RETRY_SECONDS = 2
LEASE_RETRIES = 600
# A host untouched this long while "requested" has lost its task (a broker
# restart, say); younger ones may just be waiting in the queue.
QUEUE_GRACE = timedelta(seconds=60)


def enqueue_on_commit(task, *args) -> None:
    """Send `task` once the current transaction commits. A broker that is down
    must not undo the change nor fail the request: the row is saved, and the
    periodic reconciler takes up whatever it finds waiting. Logged, not raised."""

    def send():
        try:
            task.delay(*args)
        except Exception:
            logger.exception("could not enqueue %s%r: resumed later", task.name, args)

    transaction.on_commit(send)


@shared_task(bind=True)
def record_heartbeat(self, note: str) -> int:
    """Write a `worker.heartbeat` audit event: proves web → broker → worker → DB."""
    event = services.record_heartbeat(note, hostname=self.request.hostname)
    return event.pk


@shared_task
def probe_endpoint(endpoint_id: int) -> str:
    """Probe one endpoint and record its health; returns the health."""
    return probes.probe_endpoint(endpoint_id).health


@shared_task
def probe_endpoints() -> int:
    """Periodic (beat): one probe task per enabled endpoint."""
    return probes.probe_all_endpoints(probe_endpoint.delay)


@shared_task
def check_registry_trust() -> int:
    """The trust matrix: can each endpoint's engine log in to each registry?"""
    return registries.check_trust_all()


# --- Build hosts -------------------------------------------------------------------


@shared_task(bind=True)
def provision_build_host(self, build_host_id: str) -> str:
    from hosts import leases, provisioning

    worker = leases.worker_identity(self.request.hostname)
    with logcontext.bound(build_host=build_host_id):
        return provisioning.provision(build_host_id, worker)


@shared_task(bind=True, max_retries=LEASE_RETRIES)
def remove_build_host(self, build_host_id: str) -> str:
    from hosts import leases, provisioning

    worker = leases.worker_identity(self.request.hostname)
    with logcontext.bound(build_host=build_host_id):
        outcome = provisioning.remove(build_host_id, worker)
    if outcome == provisioning.LEASE_BUSY:
        raise self.retry(countdown=LEASE_RETRY_SECONDS)
    return outcome


@shared_task(bind=True)
def run_build(self, build_id: str) -> str:
    from hosts import building, leases

    with logcontext.bound(build=build_id):
        return building.run(build_id, leases.worker_identity(self.request.hostname))


@shared_task
def deploy(deployment_id: str) -> str:
    from hosts import deployments

    with logcontext.bound(deployment=deployment_id):
        return deployments.run(deployment_id)


@shared_task(bind=True, autoretry_for=(Exception,), retry_backoff=5, max_retries=12)
def remove_deployment(self, deployment_id: str) -> str:
    """Retried with back-off while the endpoint does not answer."""
    from hosts import deployments

    with logcontext.bound(deployment=deployment_id):
        return deployments.remove(deployment_id)


@shared_task
def refresh_volumes(endpoint_id: int | None = None) -> int:
    """Rescan the ledger (all endpoints, or one), then measure sizes."""
    from hosts import volumes

    results = volumes.refresh_all(endpoint_id)
    for endpoint in _endpoints(endpoint_id):
        volumes.measure_sizes(endpoint)
    if settings.DCHWEB_REAP_ORPHANED_VOLUMES_DAYS and endpoint_id is None:
        volumes.reap_orphaned(settings.DCHWEB_REAP_ORPHANED_VOLUMES_DAYS)
    return sum(result.volumes for result in results)


def _endpoints(endpoint_id):
    from hosts.models import Endpoint

    found = Endpoint.objects.exclude(health=Endpoint.Health.DISABLED)
    return found.filter(pk=endpoint_id) if endpoint_id else found


@shared_task(bind=True)
def execute_cleanup(self, plan_id: int) -> str:
    from hosts import leases, volumes

    worker = leases.worker_identity(self.request.hostname)
    with logcontext.bound(cleanup_plan=plan_id):
        return volumes.run_plan(plan_id, worker).state


@shared_task
def reconcile_endpoints() -> int:
    """Periodic (beat): resume interrupted work, reap expired hosts, and one
    reconcile task per enabled endpoint."""
    from hosts import buildhosts, reconciler

    resume_interrupted(grace=QUEUE_GRACE)
    buildhosts.reap_expired()
    return reconciler.reconcile_all(reconcile_endpoint.delay)


@shared_task
def reconcile_endpoint(endpoint_id: int) -> dict:
    from hosts import reconciler

    with logcontext.bound(endpoint=endpoint_id):
        return reconciler.reconcile_endpoint(endpoint_id)


def resume_interrupted(grace=timedelta(0)) -> int:
    """Enqueue the provision or removal of every host nobody works on, and
    every unfinished build nobody runs."""
    from hosts import building, provisioning, volumes
    from hosts.models import BuildHost, Deployment

    count = 0
    for plan_id in volumes.interrupted_plans(grace=grace).values_list("pk", flat=True):
        execute_cleanup.delay(plan_id)
        count += 1
    waiting = Deployment.objects.filter(
        state=Deployment.State.REQUESTED, updated_at__lte=timezone.now() - grace
    )
    for deployment_id in waiting.values_list("pk", flat=True):
        deploy.delay(str(deployment_id))
        count += 1
    for build_id in building.interrupted(grace=grace).values_list("pk", flat=True):
        run_build.delay(str(build_id))
        count += 1
    waiting = provisioning.interrupted(grace=grace)
    for host_id, state in waiting.values_list("pk", "state"):
        task = (
            remove_build_host
            if state == BuildHost.State.REMOVING
            else provision_build_host
        )
        task.delay(str(host_id))
        count += 1
    return count


@worker_ready.connect
def _resume_after_restart(sender=None, **_):
    """A worker restarted after it was killed: what its previous life was
    provisioning or removing is taken up at once, not when leases expire."""
    from hosts import leases
    from hosts.models import Build, BuildHost, CleanupPlan

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
