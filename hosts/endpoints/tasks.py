"""Celery tasks of the endpoints: ids in, the probe out. Task names stay
`hosts.tasks.<name>`, so queued messages and beat entries survive upgrades."""

from celery import shared_task

from hosts.endpoints import probes


@shared_task(name="hosts.tasks.probe_endpoint")
def probe_endpoint(endpoint_id: int) -> str:
    """Probe one endpoint and record its health; returns the health."""
    return probes.probe_endpoint(endpoint_id).health


@shared_task(name="hosts.tasks.probe_endpoints")
def probe_endpoints() -> int:
    """Periodic (beat): one probe task per enabled endpoint."""
    return probes.probe_all_endpoints(probe_endpoint.delay)
