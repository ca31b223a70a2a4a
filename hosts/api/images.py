"""API v1 build-host images: dch-photon with registry CAs embedded, made by
dchweb (admins); the work is in hosts/images/commands.py."""

from ninja import Router, Schema, Status

from hosts.api.auth import BearerToken, admin_only
from hosts.api.lookups import get_or_404
from hosts.api.schemas.common import errors
from hosts.api.schemas.images import BuildHostImageIn, BuildHostImageOut
from hosts.images import commands as images
from hosts.models import BuildHostImage, Endpoint

router = Router(tags=["build-host images"])

# Checked before the body is read (hosts/api/auth.py).
ADMINS = BearerToken(admin_only("only admins may make or choose build-host images"))


@router.get(
    "/build-host-images", response={200: list[BuildHostImageOut], **errors(400, 401)}
)
def list_build_host_images(request):
    return BuildHostImage.objects.prefetch_related("registries")


@router.post(
    "/build-host-images",
    response={202: BuildHostImageOut, **errors(400, 401, 403, 404, 409)},
    summary="Build a build-host image with registry CAs embedded",
    auth=ADMINS,
)
def create_build_host_image(request, payload: BuildHostImageIn):
    """Admins only. Builds `FROM <base>` plus the CAs on an ephemeral build
    host on `endpoint_id`, pushes it; follow its `build_id`."""
    image = images.create_ca_image(request.auth, payload.dict(), request=request)
    return Status(202, image)


class MakeDefaultIn(Schema):
    endpoint_id: int


@router.post(
    "/build-host-images/{image_id}/make-default",
    response={200: BuildHostImageOut, **errors(400, 401, 403, 404)},
    summary="Make a ready image an endpoint's default build-host image",
    auth=ADMINS,
)
def make_default(request, image_id: int, payload: MakeDefaultIn):
    missing = "no such image or endpoint"
    image = get_or_404(BuildHostImage, image_id, missing)
    endpoint = get_or_404(Endpoint, payload.endpoint_id, missing)
    images.make_default(request.auth, image, endpoint, request=request)
    return image
