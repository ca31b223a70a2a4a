"""Celery tasks: thin wrappers that take ids or primitives and call services.

Enqueue with `task.delay_on_commit(...)` from code inside a transaction, so a
worker never looks for a row that is not committed yet.
"""

from celery import shared_task

from hosts import probes, registries, services


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
