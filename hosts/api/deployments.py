"""API v1 deployments and dchweb-made build-host images."""

from ninja import Router, Schema, Status

from hosts.api.errors import answering, forbidden, not_found
from hosts.api.schemas import (
    BuildHostImageIn,
    BuildHostImageOut,
    DeploymentIn,
    DeploymentOut,
    ErrorOut,
)
from hosts.buildhosts import commands as buildhosts
from hosts.core.permissions import is_admin
from hosts.deployments import commands as deployments
from hosts.images import commands as images
from hosts.models import BuildHostImage, Endpoint

router = Router(tags=["deployments and images"])

ERRORS = {400: ErrorOut, 401: ErrorOut, 404: ErrorOut}


def _deployment_errors():
    return answering(
        (deployments.DeploymentInvalid, 400, "invalid_deployment"),
        (deployments.DeploymentNotFound, 404, None),
    )


@router.get(
    "/deployments", response={200: list[DeploymentOut], 400: ErrorOut, 401: ErrorOut}
)
def list_deployments(request):
    return deployments.visible_to(request.auth)[:200]


@router.post(
    "/deployments",
    response={202: DeploymentOut, 400: ErrorOut, **ERRORS},
    summary="Run a pushed image on an endpoint",
)
def create_deployment(request, payload: DeploymentIn):
    """Pulls with the registry's login, then runs it; follow its state."""
    with _deployment_errors():
        deployment = deployments.create(request.auth, payload.dict(), request=request)
    return Status(202, deployment)


@router.get("/deployments/{deployment_id}", response={200: DeploymentOut, **ERRORS})
def get_deployment(request, deployment_id: str):
    """With the container's state and last output lines, as the engine says now."""
    with _deployment_errors():
        deployment = deployments.get_visible(request.auth, deployment_id)
    deployments.refresh(deployment)
    deployment.output = deployments.logs(deployment)
    return deployment


@router.delete(
    "/deployments/{deployment_id}",
    response={202: DeploymentOut, **ERRORS},
    summary="Remove a deployment",
)
def remove_deployment(request, deployment_id: str):
    with _deployment_errors():
        deployment = deployments.get_visible(request.auth, deployment_id)
        return Status(
            202, deployments.request_removal(request.auth, deployment, request=request)
        )


# --- Build-host images with embedded registry CAs (admins) -------------------------


@router.get(
    "/build-host-images",
    response={200: list[BuildHostImageOut], 400: ErrorOut, 401: ErrorOut},
)
def list_build_host_images(request):
    return BuildHostImage.objects.prefetch_related("registries")


@router.post(
    "/build-host-images",
    response={
        202: BuildHostImageOut,
        400: ErrorOut,
        403: ErrorOut,
        409: ErrorOut,
        **ERRORS,
    },
    summary="Build a build-host image with registry CAs embedded",
)
def create_build_host_image(request, payload: BuildHostImageIn):
    """Admins only. Builds `FROM <base>` plus the CAs on an ephemeral build
    host on `endpoint_id`, pushes it; follow its `build_id`."""
    if not is_admin(request.auth):
        raise forbidden("only admins may make build-host images")
    with _image_errors():
        image = images.create_ca_image(request.auth, payload.dict(), request=request)
    return Status(202, image)


class MakeDefaultIn(Schema):
    endpoint_id: int


@router.post(
    "/build-host-images/{image_id}/make-default",
    response={200: BuildHostImageOut, 400: ErrorOut, 403: ErrorOut, **ERRORS},
    summary="Make a ready image an endpoint's default build-host image",
)
def make_default(request, image_id: int, payload: MakeDefaultIn):
    if not is_admin(request.auth):
        raise forbidden("only admins may change an endpoint's default image")
    image = BuildHostImage.objects.filter(pk=image_id).first()
    endpoint = Endpoint.objects.filter(pk=payload.endpoint_id).first()
    if image is None or endpoint is None:
        raise not_found("no such image or endpoint")
    with _image_errors():
        images.make_default(request.auth, image, endpoint, request=request)
    return image


def _image_errors():
    return answering(
        (images.ImageInvalid, 400, "invalid_image"),
        (buildhosts.BuildHostConflict, 409, None),
    )
