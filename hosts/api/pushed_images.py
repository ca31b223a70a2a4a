"""API v1 pushed images (design.md §4.4): what builds pushed through dchweb,
and deleting one's manifest at its registry; the work is in
hosts/images/commands.py. (Build-host images are hosts/api/images.py.)"""

from ninja import Field, Query, Router, Schema

from hosts.api.auth import BearerToken, visible
from hosts.api.schemas.common import MAX_LIST_OFFSET, errors
from hosts.api.schemas.pushed_images import PushedImageOut
from hosts.images import commands as images

router = Router(tags=["pushed images"])

# Another's image is a 404 before anything else (hosts/api/auth.py).
ONE_IMAGE = BearerToken(visible("pushed_image_id", images.get_pushed_image))


class PushedImageFilters(Schema):
    deleted: bool = Field(False, description="list deleted ones too")
    limit: int = Field(100, ge=1, le=1000, description="at most this many images")
    offset: int = Field(0, ge=0, le=MAX_LIST_OFFSET, description="images to skip")


@router.get(
    "/images",
    response={200: list[PushedImageOut], **errors(400, 401)},
    summary="Images pushed through dchweb",
)
def list_pushed_images(request, filters: Query[PushedImageFilters]):
    """Yours (admins: everyone's), newest first, with the build that pushed
    each; deleted ones only with `deleted=true`."""
    found = images.visible_pushed_images(
        request.auth, include_deleted=filters.deleted
    ).select_related("deleted_by")
    return found[filters.offset : filters.offset + filters.limit]


@router.get(
    "/images/{pushed_image_id}",
    response={200: PushedImageOut, **errors(400, 401, 404)},
    auth=ONE_IMAGE,
)
def get_pushed_image(request, pushed_image_id: int):
    return images.get_pushed_image(request.auth, pushed_image_id)


@router.delete(
    "/images/{pushed_image_id}",
    response={200: PushedImageOut, **errors(400, 401, 403, 404, 409)},
    summary="Delete an image at its registry",
    auth=ONE_IMAGE,
)
def delete_pushed_image(request, pushed_image_id: int):
    """Deletes the manifest by digest at the registry (every tag of the
    repository at that digest goes too; the layers stay until the registry's
    garbage collection). Deleted already: 200 as it is. 409 with the reason
    as `error`: the registry refuses (`deletes_disabled`, `denied`, `failed`)
    or does not answer (`registry_unreachable`), it is not a registry dchweb
    knows (`registry_unknown`), or a build host or endpoint uses it
    (`in_use`)."""
    image = images.get_pushed_image(request.auth, pushed_image_id)
    return images.delete_pushed_image(request.auth, image, request=request)
