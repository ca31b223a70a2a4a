"""Inside a build host: its engine read over dchweb's own mutual-TLS
connection, and trimmed (dangling images and dangling build cache pruned).

A trim is a step on the host's timeline, named `trim`: created running when
it is asked for (so the page disables its button and a second click finds
it), finished by the worker with the space reclaimed in words, and audited
with the bytes (`build_host.trimmed`)."""

import logging
from datetime import timedelta

from django.db import transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from hosts import engine
from hosts.buildhosts.provisioning import DONE, SKIPPED, host_connection
from hosts.core import audit
from hosts.models import AuditEvent, BuildHost, BuildHostStep

logger = logging.getLogger(__name__)

TRIM_STEP = "trim"
TRIMMED = "build_host.trimmed"
# A person waits for the read: it answers in this, or says why not.
READ_TIMEOUT_SECONDS = 10
# A trim step still running after this was left by a worker that died (or
# never started: the broker was down); a new trim may start.
TRIM_STALE_AFTER = timedelta(seconds=engine.TRIM_TIMEOUT_SECONDS + 120)


def read(host: BuildHost) -> engine.Inside:
    """What the host's engine holds now (raises engine.EngineError)."""
    return engine.read_inside(host_connection(host, timeout=READ_TIMEOUT_SECONDS))


# --- Trimming -------------------------------------------------------------------


def _trims(host):
    return host.steps.filter(name=TRIM_STEP)


def running_trim(host, now=None) -> BuildHostStep | None:
    """The trim under way on `host`, if one is (a stale one aside)."""
    now = now or timezone.now()
    return (
        _trims(host)
        .filter(
            status=BuildHostStep.Status.RUNNING,
            started_at__gt=now - TRIM_STALE_AFTER,
        )
        .order_by("-started_at", "-id")
        .first()
    )


def latest_trim(host) -> BuildHostStep | None:
    return _trims(host).order_by("-started_at", "-id").first()


def start_trim(host) -> BuildHostStep:
    """A new running trim step (the caller holds the host's row and has
    checked that none runs); a stale one ends as interrupted first."""
    _trims(host).filter(status=BuildHostStep.Status.RUNNING).update(
        status=BuildHostStep.Status.FAILED,
        finished_at=timezone.now(),
        reason="interrupted",
        error="the worker trimming this host stopped before it finished",
    )
    # Each trim is its own request, never a retry of the one before: attempt
    # 1 (an attempt above 1 counts as a retried step in /metrics).
    return BuildHostStep.objects.create(build_host=host, name=TRIM_STEP)


def reclaimed_bytes(step: BuildHostStep) -> int | None:
    """The bytes a finished trim reclaimed, from its audit event."""
    if step.status != BuildHostStep.Status.DONE:
        return None
    event = AuditEvent.objects.filter(
        action=TRIMMED,
        object_id=str(step.build_host_id),
        details__step_id=step.pk,
    ).first()
    return event.details.get("reclaimed_bytes") if event else None


def trim(build_host_id, step_id) -> str:
    """Prune the host's dangling images and build cache; the step ends done
    with the space reclaimed, or failed with the reason. A step that is not
    running (done already: a redelivered task) is left alone."""
    step = (
        BuildHostStep.objects.select_related("build_host__endpoint")
        .filter(pk=step_id, build_host_id=build_host_id, name=TRIM_STEP)
        .first()
    )
    if step is None or step.status != BuildHostStep.Status.RUNNING:
        return SKIPPED
    host = step.build_host
    if host.state != BuildHost.State.READY:
        _fail(step, "host_not_ready", f"the build host is {host.state}, not ready")
        return DONE
    try:
        trimmed = engine.trim(host_connection(host))
    except engine.EngineError as error:
        logger.warning("trim: failed (%s): %s", error.reason, error.message)
        _fail(step, error.reason, error.message)
        return DONE
    with transaction.atomic():
        step.finish(BuildHostStep.Status.DONE, detail=describe(trimmed))
        audit.record(
            None,
            TRIMMED,
            host,
            {
                "step_id": step.pk,
                "reclaimed_bytes": trimmed.reclaimed_bytes,
                "images_deleted": trimmed.images_deleted,
                "images_bytes": trimmed.images_bytes,
                "build_cache_bytes": trimmed.build_cache_bytes,
            },
            source=AuditEvent.Source.TASK,
        )
    logger.info("trim: reclaimed %d bytes", trimmed.reclaimed_bytes)
    return DONE


def describe(trimmed: engine.Trimmed) -> str:
    """ "reclaimed 12.3 MB: 2 dangling images (12.3 MB), build cache (0 bytes)"."""
    images = trimmed.images_deleted
    cache = (
        f"build cache ({size_words(trimmed.build_cache_bytes)})"
        if trimmed.build_cache_supported
        else "no build cache (the engine's API has none)"
    )
    return (
        f"reclaimed {size_words(trimmed.reclaimed_bytes)}: {images} dangling "
        f"image{'' if images == 1 else 's'} ({size_words(trimmed.images_bytes)}), "
        f"{cache}"
    )


def size_words(size: int) -> str:
    # filesizeformat joins number and unit with a no-break space: a plain one
    # reads the same in the API's JSON.
    return str(filesizeformat(size)).replace("\xa0", " ")


def _fail(step, reason, message):
    step.finish(BuildHostStep.Status.FAILED, error=message, reason=reason)
