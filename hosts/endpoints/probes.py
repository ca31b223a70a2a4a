"""Endpoint health: probe an engine and move its health along
on → degraded → off (after FAILURES_BEFORE_OFF failures in a row).

An endpoint an admin disabled stays disabled: probes skip it.
"""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from hosts import engine
from hosts.core import audit, queue
from hosts.core.connections import connection_for
from hosts.models import Endpoint
from hosts.notifications import outbox, payloads

FAILURES_BEFORE_OFF = 3


def probe_endpoint(endpoint_id):
    """Probe one endpoint now and record what it said; returns the endpoint."""
    endpoint = Endpoint.objects.select_related(
        "ca_certificate", "client_certificate"
    ).get(pk=endpoint_id)
    if endpoint.is_disabled:
        return endpoint
    try:
        result = engine.probe(connection_for(endpoint))
    except engine.EngineError as error:
        return _record_failure(endpoint.pk, error)
    return _record_success(endpoint.pk, result)


def probe_all_endpoints(enqueue):
    """Hand every enabled endpoint to `enqueue(endpoint_id)`, one task each, so
    one slow engine never delays the others' probes."""
    ids = Endpoint.objects.enabled().values_list("pk", flat=True)
    for endpoint_id in ids:
        enqueue(endpoint_id)
    return len(ids)


@transaction.atomic
def _record_success(endpoint_id, result):
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
    if endpoint.is_disabled:
        return endpoint  # disabled while the probe ran: the admin's word wins
    was = endpoint.health
    # A new endpoint is "off" until its first probe: that answer is no news.
    probed_before = endpoint.last_probe_at is not None
    endpoint.health = Endpoint.Health.ON
    endpoint.consecutive_failures = 0
    endpoint.last_error = ""
    endpoint.last_error_reason = ""
    endpoint.last_probe_at = timezone.now()
    endpoint.flavor = result.flavor
    endpoint.api_version = result.api_version
    endpoint.server_version = result.server_version
    endpoint.os_arch = f"{result.os_type}/{result.architecture}".strip("/")
    endpoint.volume_stores = result.volume_stores
    endpoint.save()
    _audit_change(endpoint, was)
    _tell_admins(endpoint, was if probed_before else None)
    if was != Endpoint.Health.ON and endpoint.pool_size:
        # Back on (or on for the first time): its warm pool fills now, not
        # at the next periodic pass. By name: endpoints sit below build hosts.
        queue.send_on_commit(queue.REFILL_POOL_TASK, endpoint.pk)
    return endpoint


@transaction.atomic
def _record_failure(endpoint_id, error):
    Endpoint.objects.filter(pk=endpoint_id).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint_id)
    if endpoint.is_disabled:
        return endpoint
    was = endpoint.health
    endpoint.health = (
        Endpoint.Health.OFF
        if endpoint.consecutive_failures >= FAILURES_BEFORE_OFF
        else Endpoint.Health.DEGRADED
    )
    endpoint.last_error = error.message
    endpoint.last_error_reason = error.reason
    endpoint.last_probe_at = timezone.now()
    endpoint.save()
    _audit_change(endpoint, was)
    _tell_admins(endpoint, was)
    return endpoint


def _audit_change(endpoint, was):
    """Only changes of health go to the audit log, not every probe."""
    if endpoint.health == was:
        return
    details = {"from": was, "to": endpoint.health}
    if endpoint.last_error_reason:
        details["reason"] = endpoint.last_error_reason
    audit.record(None, "endpoint.health_changed", endpoint, details, source="task")


def _tell_admins(endpoint, was):
    """Off when it goes off, on when it comes back from off: the admins hear
    of a transition once, not of every probe nor of a degraded blip."""
    off = Endpoint.Health.OFF
    if endpoint.health == off and was != off:
        event = "endpoint.off"
    elif endpoint.health == Endpoint.Health.ON and was == off:
        event = "endpoint.on"
    else:
        return
    error = endpoint.last_error if event == "endpoint.off" else ""
    outbox.emit(event, payloads.endpoint(event, endpoint, error=error))
