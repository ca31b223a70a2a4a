"""API v1 deployments: a pushed image run on an endpoint; the work is in
hosts/deployments/commands.py."""

from ninja import Router, Status

from hosts.api.auth import BearerToken, visible
from hosts.api.schemas.common import errors
from hosts.api.schemas.deployments import DeploymentIn, DeploymentOut
from hosts.deployments import commands as deployments

router = Router(tags=["deployments"])

ERRORS = errors(400, 401, 404)
CHANGE_ERRORS = errors(400, 401, 403, 404)
# An operation on one deployment: another's is a 404 before the input is read
# (hosts/api/auth.py).
ONE_DEPLOYMENT = BearerToken(visible("deployment_id", deployments.get_visible))


@router.get("/deployments", response={200: list[DeploymentOut], **errors(400, 401)})
def list_deployments(request):
    return deployments.visible_to(request.auth)[:200]


@router.post(
    "/deployments",
    response={202: DeploymentOut, **CHANGE_ERRORS},
    summary="Run a pushed image on an endpoint",
)
def create_deployment(request, payload: DeploymentIn):
    """Pulls with the registry's login, then runs it; follow its state."""
    deployment = deployments.create(request.auth, payload.dict(), request=request)
    return Status(202, deployment)


@router.get(
    "/deployments/{deployment_id}",
    response={200: DeploymentOut, **ERRORS},
    auth=ONE_DEPLOYMENT,
)
def get_deployment(request, deployment_id: str):
    """With the container's state and last output lines, as the engine says now."""
    deployment = deployments.get_visible(request.auth, deployment_id)
    deployments.refresh(deployment)
    deployment.output = deployments.logs(deployment)
    return deployment


@router.delete(
    "/deployments/{deployment_id}",
    response={202: DeploymentOut, **CHANGE_ERRORS},
    summary="Remove a deployment",
    auth=ONE_DEPLOYMENT,
)
def remove_deployment(request, deployment_id: str):
    deployment = deployments.get_visible(request.auth, deployment_id)
    return Status(
        202, deployments.request_removal(request.auth, deployment, request=request)
    )
