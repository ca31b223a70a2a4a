"""Deployments, the request side: run a pushed image on an endpoint (the
seed's workflow step 4: "pull the image from the registry into a VCH for
deployment"), show its state and output, and remove it. The engine work is in
hosts/deployments/runner.py."""

import logging
import shlex

from django.db import transaction

from hosts.buildhosts import commands as buildhosts
from hosts.core import audit, permissions
from hosts.core.errors import Invalid, NotFound
from hosts.core.queue import enqueue_on_commit
from hosts.deployments import tasks
from hosts.deployments.runner import logs as logs
from hosts.deployments.runner import refresh as refresh
from hosts.models import AuditEvent, Deployment, Registry

logger = logging.getLogger(__name__)
SYSTEM = AuditEvent.Source.TASK
MAX_IMAGE_LENGTH = 300


class DeploymentInvalid(Invalid):
    code = "invalid_deployment"


class DeploymentNotFound(NotFound):
    pass


def _deployments():
    return Deployment.objects.select_related("endpoint", "owner")


def visible_to(user):
    return permissions.visible_to(user, _deployments())


def get_visible(user, deployment_id) -> Deployment:
    not_found = DeploymentNotFound(f"no deployment {deployment_id}")
    return permissions.get_visible(user, _deployments(), deployment_id, not_found)


def create(actor, data: dict, *, source=None, request=None) -> Deployment:
    try:
        endpoint = buildhosts.endpoint_for_request(data.get("endpoint_id"))
    except buildhosts.BuildHostInvalid as error:
        raise DeploymentInvalid(error.message, "endpoint_id") from None
    image = (data.get("image") or "").strip()
    if not image or len(image) > MAX_IMAGE_LENGTH or any(c.isspace() for c in image):
        raise DeploymentInvalid(
            "name the image to run, e.g. a pushed ref@digest", "image"
        )
    with transaction.atomic():
        deployment = Deployment.objects.create(
            owner=actor,
            endpoint=endpoint,
            image=image,
            registry=Registry.objects.filter(address=image.split("/", 1)[0]).first(),
            command=_command(data.get("command")),
        )
        audit.record(
            actor,
            "deployment.created",
            deployment,
            {"image": image},
            source=source,
            request=request,
        )
        enqueue_on_commit(tasks.deploy, str(deployment.pk))
    return deployment


def _command(value) -> list[str]:
    if value in (None, "", []):
        return []
    if isinstance(value, list):
        return [str(part) for part in value]
    try:
        return shlex.split(str(value))
    except ValueError as error:
        raise DeploymentInvalid(
            f"the command cannot be split: {error}", "command"
        ) from None


def request_removal(actor, deployment, *, source=None, request=None) -> Deployment:
    with transaction.atomic():
        deployment = Deployment.objects.select_for_update().get(pk=deployment.pk)
        if deployment.state in Deployment.LEAVING_STATES:
            return deployment
        deployment.state = Deployment.State.REMOVING
        deployment.save(update_fields=["state", "updated_at"])
        audit.record(
            actor, "deployment.removed", deployment, source=source, request=request
        )
        enqueue_on_commit(tasks.remove_deployment, str(deployment.pk))
    return deployment
