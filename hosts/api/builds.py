"""API v1 builds (design.md §4.2): multipart in, JSON and log text out; the
work is in hosts/builds/commands.py and the task that runs the build."""

from django.http import HttpResponse
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile

from hosts.api.auth import BearerToken, visible
from hosts.api.schemas.builds import BuildOut
from hosts.api.schemas.common import errors
from hosts.builds import commands as builds
from hosts.builds import logs as buildlogs

router = Router(tags=["builds"])

ERRORS = errors(400, 401, 404)
# An operation on one build: another's is a 404 before the input is read
# (hosts/api/auth.py).
ONE_BUILD = BearerToken(visible("build_id", builds.get_visible))


class BuildForm(Schema):
    tag: str = Field(
        description="one or more tags, space or comma separated: "
        "<registry>/<project>/<name>:<tag>"
    )
    build_host_id: str = Field("", description="one of your ready build hosts")
    endpoint_id: int | None = Field(
        None,
        description="instead: an ephemeral build host on this endpoint; neither "
        "this nor build_host_id: dchweb places the ephemeral host (the owner's "
        "cache, then a free pool host, then the endpoint with the fewest "
        "running hosts)",
    )
    registry_id: int | None = None
    dockerfile: str = "Dockerfile"
    dockerfile_text: str = Field("", description="a Dockerfile, instead of a context")
    build_args: str = Field("", description='JSON object: {"NAME": "value"}')
    push: bool = True
    volume_policy: str = Field(
        "delete",
        description='of an ephemeral build host: "delete", "keep" or "cache" '
        "(its data volume is kept as your build cache on that endpoint; your "
        "next build there starts on it)",
    )
    cache_from: list[str] = Field(
        [],
        description="images whose layers may serve as the build's cache, pulled "
        "with the registry's login first (repeat the field, or space separated)",
    )
    target: str = Field("", description="the stage of a multi-stage build to stop at")
    no_cache: bool = Field(False, description="use no cache at all")
    pull: bool = Field(False, description="always pull the FROM images")
    labels: str = Field(
        "", description='labels on the image, a JSON object: {"NAME": "value"}'
    )


@router.post(
    "/builds",
    response={202: BuildOut, **errors(400, 401, 403, 404, 409)},
    summary="Build (and push) an image",
)
def create_build(request, form: Form[BuildForm], context: File[UploadedFile] = None):
    """multipart/form-data: `context` (tar or tar.gz) or `dockerfile_text`;
    202: the worker builds it; follow GET /builds/{id} and its log. On a
    build host made for it (endpoint_id, or neither it nor build_host_id),
    409 `over_budget` when its volumes would be kept and you keep as much as
    your budget already, 409 `nothing_fits` (with `reasons`, endpoint by
    endpoint) when no endpoint can take it."""
    build = builds.create_build(
        request.auth, form.dict(), upload=context, request=request
    )
    return Status(202, build)


class BuildFilters(Schema):
    state: str = ""


@router.get("/builds", response={200: list[BuildOut], **errors(400, 401)})
def list_builds(request, filters: Query[BuildFilters]):
    """Your builds (admins: everyone's), newest first, at most 200."""
    found = builds.visible_to(request.auth)
    if filters.state:
        found = found.filter(state=filters.state)
    return found[:200]


@router.get("/builds/{build_id}", response={200: BuildOut, **ERRORS}, auth=ONE_BUILD)
def get_build(request, build_id: str):
    return builds.get_visible(request.auth, build_id)


class LogQuery(Schema):
    offset: int = Field(
        0, ge=0, le=buildlogs.MAX_LOG_OFFSET, description="bytes already read"
    )


@router.get(
    "/builds/{build_id}/log",
    response={200: None, **ERRORS},
    summary="The build's log from an offset",
    auth=ONE_BUILD,
)
def build_log(request, build_id: str, params: Query[LogQuery]):
    """text/plain, at most 64 KiB from `offset`; header `X-Next-Offset` is the
    offset to ask for next, and `X-Build-State` whether more may come."""
    build = builds.get_visible(request.auth, build_id)
    data, next_offset = buildlogs.read(build.pk, params.offset)
    response = HttpResponse(data, content_type="text/plain; charset=utf-8")
    response["X-Next-Offset"] = str(next_offset)
    response["X-Build-State"] = build.state
    return response


@router.post(
    "/builds/{build_id}/cancel",
    response={202: BuildOut, **errors(400, 401, 403, 404)},
    summary="Cancel a build",
    auth=ONE_BUILD,
)
def cancel_build(request, build_id: str):
    build = builds.get_visible(request.auth, build_id)
    return Status(202, builds.cancel(request.auth, build, request=request))
