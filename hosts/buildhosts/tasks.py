"""Celery tasks of the build hosts: ids in, the worker side does the work.
Task names stay `hosts.tasks.<name>`, so queued messages and beat entries
survive upgrades. Every task here is safe to run twice."""

from celery import shared_task

from hosts.buildhosts import idle, inside, pool, provisioning, reconciler
from hosts.core import leases, queue
from hosts.lib import logcontext

# A removal waits for a provision still holding the host's lease.
LEASE_RETRY_SECONDS = 2
LEASE_RETRIES = 600


@shared_task(bind=True, name="hosts.tasks.provision_build_host")
def provision_build_host(self, build_host_id: str) -> str:
    worker = leases.worker_identity(self.request.hostname)
    with logcontext.bound(build_host=build_host_id):
        return provisioning.provision(build_host_id, worker)


@shared_task(bind=True, max_retries=LEASE_RETRIES, name="hosts.tasks.remove_build_host")
def remove_build_host(self, build_host_id: str) -> str:
    worker = leases.worker_identity(self.request.hostname)
    with logcontext.bound(build_host=build_host_id):
        outcome = provisioning.remove(build_host_id, worker)
    if outcome == provisioning.LEASE_BUSY:
        raise self.retry(countdown=LEASE_RETRY_SECONDS)
    return outcome


@shared_task(name=queue.REFILL_POOL_TASK)
def refill_pool(endpoint_id: int) -> dict:
    """Top the endpoint's warm pool up and recycle what should go: the
    refill decides, this enqueues the work (each host its own task)."""
    with logcontext.bound(endpoint=endpoint_id):
        plan = pool.refill(endpoint_id)
    for build_host_id in plan.remove:
        remove_build_host.delay(build_host_id)
    for build_host_id in plan.provision:
        provision_build_host.delay(build_host_id)
    return {"provision": plan.provision, "remove": plan.remove}


@shared_task(name="hosts.tasks.reconcile_endpoint")
def reconcile_endpoint(endpoint_id: int) -> dict:
    with logcontext.bound(endpoint=endpoint_id):
        return reconciler.reconcile_endpoint(endpoint_id)


@shared_task(name="hosts.tasks.trim_build_host")
def trim_build_host(build_host_id: str, step_id: int) -> str:
    with logcontext.bound(build_host=build_host_id):
        return inside.trim(build_host_id, step_id)


@shared_task(name="hosts.tasks.stop_idle_build_hosts")
def stop_idle_build_hosts() -> dict:
    return idle.stop_idle_hosts()


@shared_task(name="hosts.tasks.stop_build_host")
def stop_build_host(build_host_id: str, asked_by: str) -> bool:
    with logcontext.bound(build_host=build_host_id):
        return idle.stop_on_request(build_host_id, asked_by)


@shared_task(bind=True, max_retries=LEASE_RETRIES, name="hosts.tasks.resume_build_host")
def resume_build_host(self, build_host_id: str) -> str:
    worker = leases.worker_identity(self.request.hostname)
    with logcontext.bound(build_host=build_host_id):
        outcome = idle.resume(build_host_id, worker)
    if outcome == provisioning.LEASE_BUSY:
        raise self.retry(countdown=LEASE_RETRY_SECONDS)
    return outcome
