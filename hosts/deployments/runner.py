"""Deployments on the engine: pull with the registry's login, create, start,
read the state and output, and remove. Runs in the worker (`run`, `remove`),
and at request time for the live state and output (`refresh`, `logs`)."""

import logging

from django.db import transaction

from hosts import engine
from hosts.core import audit, installation
from hosts.core.connections import connection_for
from hosts.models import AuditEvent, Deployment

logger = logging.getLogger(__name__)
SYSTEM = AuditEvent.Source.TASK


def run(deployment_id) -> str:
    """Pull with the registry's login, create, start, record the state."""
    deployment = (
        Deployment.objects.select_related("endpoint", "registry")
        .filter(pk=deployment_id)
        .first()
    )
    # Taken by one run only, even when a resumed task and the original race.
    taken = Deployment.objects.filter(
        pk=deployment_id, state=Deployment.State.REQUESTED
    ).update(state=Deployment.State.STARTING)
    if deployment is None or not taken:
        return "skipped"
    deployment.state = Deployment.State.STARTING
    connection = connection_for(deployment.endpoint)
    try:
        auth = deployment.registry.auth_config() if deployment.registry else None
        engine.pull_image(connection, deployment.image, auth=auth)
        container_id = engine.create_container(connection, _spec(deployment))
        _set(deployment, container_id=container_id)
        engine.start_container(connection, container_id)
    except engine.EngineError as error:
        _fail(deployment, connection, error)
        return "failed"
    refresh(deployment)
    return deployment.state


def _spec(deployment):
    return engine.ContainerSpec(
        name=deployment.container_name,
        image=deployment.image,
        command=deployment.command or None,
        labels={
            "io.dchweb.managed": "true",
            "io.dchweb.installation": installation.installation_id(),
            "io.dchweb.deployment": str(deployment.pk),
            "io.dchweb.owner": deployment.owner.get_username(),
        },
        network=deployment.endpoint.network,
    )


def _fail(deployment, connection, error):
    try:
        engine.remove_container(connection, deployment.container_name)
    except engine.EngineError:
        logger.warning("deployment %s: could not remove its container", deployment.pk)
    with transaction.atomic():
        _set(
            deployment,
            state=Deployment.State.FAILED,
            error=error.message,
            error_reason=error.reason,
            container_id="",
        )
        audit.record(
            None,
            "deployment.failed",
            deployment,
            {"reason": error.reason},
            source=SYSTEM,
        )


def refresh(deployment) -> Deployment:
    """Ask the engine how the container is doing (running, exited)."""
    if deployment.state not in Deployment.LIVE_STATES:
        return deployment
    try:
        status = engine.container_status(
            connection_for(deployment.endpoint), deployment.container_id
        )
    except engine.EngineNotFound:
        _set(deployment, state=Deployment.State.FAILED, error="the container is gone")
        return deployment
    except engine.EngineError:
        return deployment  # unknown now; the next look asks again
    if status.state == "running":
        _set(deployment, state=Deployment.State.RUNNING)
    elif status.state in ("exited", "dead"):
        _set(deployment, state=Deployment.State.EXITED, exit_code=status.exit_code)
    return deployment


def logs(deployment, tail=200) -> str:
    if not deployment.container_id or deployment.state == Deployment.State.REMOVED:
        return ""
    try:
        return engine.container_logs(
            connection_for(deployment.endpoint), deployment.container_id, tail=tail
        )
    except engine.EngineError as error:
        return f"(the output cannot be read now: {error.message})"


def remove(deployment_id) -> str:
    deployment = (
        Deployment.objects.select_related("endpoint").filter(pk=deployment_id).first()
    )
    if deployment is None or deployment.state != Deployment.State.REMOVING:
        return "skipped"
    try:
        engine.remove_container(
            connection_for(deployment.endpoint), deployment.container_name
        )
    except engine.EngineError as error:
        _set(deployment, error=f"removal failed: {error.message}")
        raise
    _set(deployment, state=Deployment.State.REMOVED)
    return "removed"


def _set(deployment, **changes):
    for name, value in changes.items():
        setattr(deployment, name, value)
    deployment.save(update_fields=[*changes, "updated_at"])
