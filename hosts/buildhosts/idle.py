"""Idle stop and resume (issue 14): a running build host whose own engine has
seen no activity for its idle minutes is stopped (its container stopped, its
volumes kept, its owner told); its owner resumes it, on whatever port the
engine publishes then.

Activity is read from the host's engine over dchweb's mutual TLS: its events
since the last activity seen, the containers running in it now, and a
dchweb build on it (the host is busy). dchweb's own checks leave no event.

Each stop and each resume is a pair of steps on the host's timeline. While a
worker resumes a host its state stays `stopped` (at the step `resume_start`
or `resume_wait_ready`): it takes no place in its owner's count until it runs
again, and the pages poll it until it does.
"""

import contextlib
import logging
from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from hosts import engine
from hosts.buildhosts.provisioning import (
    DONE,
    LEASE_BUSY,
    SKIPPED,
    host_connection,
    release_lease,
    take_lease,
    wait_answering,
)
from hosts.core import audit
from hosts.core.connections import connection_for
from hosts.lib import event_words, logcontext
from hosts.models import AuditEvent, BuildHost, BuildHostStep
from hosts.notifications import outbox, payloads

logger = logging.getLogger(__name__)

SYSTEM = AuditEvent.Source.TASK
STOP_STEP = BuildHost.STOP_STEP
STOPPED_EVENT = "build_host.stopped"
START_STEP, READY_STEP = BuildHost.RESUME_STEPS
# Someone is waiting for the answer: a host that does not answer in this is
# looked at again at the next pass.
ACTIVITY_TIMEOUT_SECONDS = 10

# What the pass did with a host (its summary's keys).
STOPPED = "stopped"
ACTIVE = "active"
UNREACHABLE = "unreachable"


# --- The pass ---------------------------------------------------------------------


def idle_candidates():
    """Running hosts that may stop for idleness: dchweb holds a certificate
    to look inside them (an adopted host has none)."""
    return (
        BuildHost.objects.claimed_or_own()
        .filter(state__in=BuildHost.RUNNING_STATES)
        .exclude(client_cert_pem="")
        .select_related("endpoint", "owner")
    )


def stop_idle_hosts(now=None) -> dict:
    """One pass over the running hosts: record the activity each one's engine
    shows and stop those idle for their idle minutes. `now` may be later than
    the clock (a test, or a pass that wants to look ahead): the engine is
    asked about the past only."""
    now = now or timezone.now()
    done = defaultdict(list)
    for host in idle_candidates():
        minutes = host.effective_idle_minutes
        if not minutes:
            continue
        with logcontext.bound(build_host=host.pk):
            outcome = _look_at(host, minutes, now)
        done[outcome].append(host.name)
    return {key: sorted(names) for key, names in done.items()}


def _look_at(host, minutes, now) -> str:
    seen = _last_activity(host, now)
    if seen is None:
        return UNREACHABLE
    if seen != host.last_activity_at:
        BuildHost.objects.filter(pk=host.pk).update(last_activity_at=seen)
        host.last_activity_at = seen
    if now - seen < timedelta(minutes=minutes):
        return ACTIVE
    return STOPPED if stop_for_idleness(host, minutes) else ACTIVE


def _last_activity(host, now):
    """The newest activity of the host: a build of dchweb's on it, something
    running in it, an event of its engine; None when its engine did not
    answer (nothing is decided on a host nobody could look at)."""
    earlier = host.last_activity_at or host.ready_at or host.created_at
    if host.state == BuildHost.State.BUSY:
        return max(now, earlier)
    until = min(now, timezone.now())
    try:
        activity = engine.read_activity(
            host_connection(host, timeout=ACTIVITY_TIMEOUT_SECONDS),
            since=min(earlier, until),
            until=until,
        )
    except engine.EngineError as error:
        logger.warning(
            "idle: cannot read activity (%s): %s", error.reason, error.message
        )
        return None
    if activity.busy_now:
        return max(now, earlier)
    if activity.last_event_at is not None and activity.last_event_at > earlier:
        return min(activity.last_event_at, until)
    return earlier


def stop_for_idleness(host, minutes) -> bool:
    """Stop the host's container (volumes kept) and tell its owner; False if
    the host changed meanwhile (a build took it, a removal) or its engine
    refused (it stays ready; the next pass tries again)."""
    stopped = _stop(
        host,
        detail=f"no activity for {minutes} minutes; volumes kept",
        details={
            "idle_minutes": minutes,
            "last_activity_at": _iso(host.last_activity_at),
        },
        told=lambda host: describe(host, minutes),
    )
    if stopped:
        logger.info("idle: stopped after %d minutes without activity", minutes)
    return stopped


def stop_on_request(build_host_id, asked_by: str) -> bool:
    """Stop a ready host its owner (or an admin) asked to stop, as an idle
    one is stopped: volumes kept, resumable."""
    host = BuildHost.objects.select_related("endpoint", "owner").get(pk=build_host_id)
    stopped = _stop(
        host,
        detail=f"stopped by {asked_by}; volumes kept",
        details={"asked_by": asked_by},
        told=lambda host: _told_stopped(host, asked_by),
    )
    if not stopped:
        # A build took it first, or its engine refused: it stays ready.
        BuildHost.objects.filter(pk=host.pk, step=STOP_STEP).update(step="")
    return stopped


def _stop(host, *, detail, details, told) -> bool:
    step = _mark_stopping(host)
    if step is None:
        return False
    try:
        engine.stop_container(
            connection_for(host.endpoint), host.container_id or host.container_name
        )
    except engine.EngineError as error:
        logger.warning("stop: could not stop (%s): %s", error.reason, error.message)
        with transaction.atomic():
            step.finish(
                BuildHostStep.Status.FAILED, error=error.message, reason=error.reason
            )
            BuildHost.objects.filter(pk=host.pk, state=BuildHost.State.STOPPED).update(
                state=BuildHost.State.READY, stopped_at=None
            )
        return False
    with transaction.atomic():
        step.finish(BuildHostStep.Status.DONE, detail=detail)
        host.refresh_from_db()
        audit.record(None, "build_host.stopped", host, details, source=SYSTEM)
        outbox.emit(STOPPED_EVENT, told(host), owner=host.owner)
    return True


def _told_stopped(host, asked_by) -> dict:
    obj = payloads.build_host(STOPPED_EVENT, host)
    obj["stopped_by"] = asked_by
    obj["summary"] = event_words.describe(STOPPED_EVENT, obj)
    return obj


def _mark_stopping(host):
    """Stopped in the database first, so that the reconciler, which starts a
    ready host's stopped container again, never sees the one it stops."""
    with transaction.atomic():
        locked = BuildHost.objects.select_for_update().filter(pk=host.pk).first()
        if locked is None or locked.state != BuildHost.State.READY:
            return None
        locked.state = BuildHost.State.STOPPED
        locked.stopped_at = timezone.now()
        locked.step = ""
        locked.save(update_fields=["state", "stopped_at", "step", "updated_at"])
        return _new_step(locked, STOP_STEP)


def describe(host, minutes) -> dict:
    """The host as the notification carries it, with the minutes it idled."""
    obj = payloads.build_host(STOPPED_EVENT, host)
    obj["idle_minutes"] = minutes
    obj["summary"] = event_words.describe(STOPPED_EVENT, obj)
    return obj


def _iso(moment):
    return moment.isoformat() if moment else None


def _new_step(host, name) -> BuildHostStep:
    attempt = host.steps.filter(name=name).count() + 1
    return BuildHostStep.objects.create(build_host=host, name=name, attempt=attempt)


# --- Resume ------------------------------------------------------------------------


def resume(build_host_id, worker: str) -> str:
    """Start a stopped host's container again, read the port the engine
    publishes now, wait for /_ping over mutual TLS: ready. A failure leaves
    it stopped, with the failed step and the reason: its owner may resume it
    again or remove it."""
    host = (
        BuildHost.objects.select_related("endpoint", "owner")
        .filter(pk=build_host_id)
        .first()
    )
    if host is None or not host.is_resuming:
        return SKIPPED
    if not take_lease(host.pk, worker):
        return LEASE_BUSY
    connection = connection_for(host.endpoint)
    try:
        _resume_step(host, START_STEP, lambda: _start(connection, host))
        _resume_step(host, READY_STEP, lambda: wait_answering(connection, host))
        _mark_ready(host)
    except engine.EngineError as error:
        _resume_failed(connection, host, error.reason, error.message)
    finally:
        release_lease(host.pk, worker)
    return DONE


def _resume_step(host, name, function):
    stopped = BuildHost.objects.filter(pk=host.pk, state=BuildHost.State.STOPPED)
    if not stopped.update(step=name):
        # Reaped or removed meanwhile: its removal takes the container.
        raise engine.EngineError("the build host is going away", reason="host_gone")
    step = _new_step(host, name)
    try:
        detail = function()
    except engine.EngineError as error:
        step.finish(
            BuildHostStep.Status.FAILED, error=error.message, reason=error.reason
        )
        raise
    step.finish(BuildHostStep.Status.DONE, detail=detail)


def _start(connection, host) -> str:
    engine.start_container(connection, host.container_id)
    status = engine.container_status(connection, host.container_id)
    if status.port is None:
        raise engine.EngineError(
            "the engine published no port for the build host's TLS API",
            reason="no_port",
        )
    # The engine may publish the TLS port on another host port this time.
    BuildHost.objects.filter(pk=host.pk).update(port=status.port)
    host.port = status.port
    return host.docker_host


def _mark_ready(host):
    now = timezone.now()
    with transaction.atomic():
        # Only a host still stopped: one reaped meanwhile stays on its way out.
        resumed = BuildHost.objects.filter(
            pk=host.pk, state=BuildHost.State.STOPPED
        ).update(
            state=BuildHost.State.READY,
            step="",
            stopped_at=None,
            last_activity_at=now,
            error="",
            error_reason="",
            updated_at=now,
        )
        if not resumed:
            return
        host.refresh_from_db()
        audit.record(
            None,
            "build_host.resumed",
            host,
            {"docker_host": host.docker_host},
            source=SYSTEM,
        )
    logger.info("resumed at %s", host.docker_host)


def _resume_failed(connection, host, reason, message):
    # A container started halfway is stopped again: a stopped host runs
    # nothing (best effort: its engine may be the one that failed).
    with contextlib.suppress(engine.EngineError):
        engine.stop_container(connection, host.container_id)
    with transaction.atomic():
        BuildHost.objects.filter(pk=host.pk, state=BuildHost.State.STOPPED).update(
            step="",
            error=f"could not resume: {message}",
            error_reason=reason,
            updated_at=timezone.now(),
        )
        audit.record(
            None,
            "build_host.resume_failed",
            host,
            {"reason": reason, "error": message},
            source=SYSTEM,
        )
    logger.warning("resume failed (%s): %s", reason, message)
