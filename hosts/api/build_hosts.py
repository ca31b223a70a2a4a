"""API v1 build hosts (design.md §4.2): HTTP in and out; the work is in
hosts/buildhosts/commands.py and the Celery tasks it enqueues."""

from ninja import Field, Query, Router, Schema, Status

from hosts.api.auth import BearerToken, visible
from hosts.api.schemas.build_host_inside import InsideOut, TrimOut
from hosts.api.schemas.build_hosts import (
    BuildHostIn,
    BuildHostOut,
    ExtendIn,
    HeartbeatOut,
)
from hosts.api.schemas.common import MAX_LIST_OFFSET, errors
from hosts.buildhosts import commands as buildhosts
from hosts.buildhosts import connect
from hosts.lib.downloads import attachment
from hosts.models import BuildHost

router = Router(tags=["build hosts"])

ERRORS = errors(400, 401, 404)
CHANGE_ERRORS = errors(400, 401, 403, 404, 409)
# An operation on one host: another's is a 404 before the input is read
# (hosts/api/auth.py).
ONE_HOST = BearerToken(visible("build_host_id", buildhosts.get_visible))


class BuildHostFilters(Schema):
    state: BuildHost.State | None = Field(None, description="only hosts in this state")
    limit: int = Field(100, ge=1, le=1000, description="at most this many hosts")
    offset: int = Field(0, ge=0, le=MAX_LIST_OFFSET, description="hosts to skip")


@router.get("/build-hosts", response={200: list[BuildHostOut], **errors(400, 401)})
def list_build_hosts(request, filters: Query[BuildHostFilters]):
    """Your build hosts (admins: everyone's), newest first, `limit` at a time
    from `offset` (removed hosts stay listed: without a page, each answer
    grew with every host ever made)."""
    hosts = buildhosts.visible_to(request.auth).prefetch_related("steps", "registries")
    if filters.state:
        hosts = hosts.filter(state=filters.state)
    return hosts[filters.offset : filters.offset + filters.limit]


@router.post(
    "/build-hosts",
    response={202: BuildHostOut, **CHANGE_ERRORS},
    summary="Ask for a build host",
)
def create_build_host(request, payload: BuildHostIn):
    """202: the worker provisions it; poll GET /build-hosts/{id} for its steps.
    With an `Idempotency-Key` header, the same key returns the same host (409
    `idempotency_key_reused` if the request differs). 409 `cap_reached` when
    the endpoint or you have as many build hosts as allowed; 409
    `over_budget` when its volumes would be kept (keep, keep_days) and you
    keep as much as your budget already (GET /volumes/budget). Without
    `endpoint_id` dchweb places it (`placement` says where and why); 409
    `nothing_fits` when no endpoint can take it, with `reasons`: each
    endpoint's, in words."""
    key = request.headers.get("Idempotency-Key", "")
    host, _ = buildhosts.create_build_host(
        request.auth, payload.dict(), idempotency_key=key, request=request
    )
    return Status(202, host)


@router.get(
    "/build-hosts/{build_host_id}",
    response={200: BuildHostOut, **ERRORS},
    auth=ONE_HOST,
)
def get_build_host(request, build_host_id: str):
    return buildhosts.get_visible(request.auth, build_host_id)


@router.post(
    "/build-hosts/{build_host_id}/extend",
    response={200: BuildHostOut, **CHANGE_ERRORS},
    summary="Extend a build host's time to live",
    auth=ONE_HOST,
)
def extend_build_host(request, build_host_id: str, payload: ExtendIn):
    host = buildhosts.get_visible(request.auth, build_host_id)
    return buildhosts.extend(request.auth, host, payload.minutes, request=request)


@router.post(
    "/build-hosts/{build_host_id}/heartbeat",
    response={200: HeartbeatOut, **errors(401, 403, 404, 409)},
    summary="Renew a build host's heartbeat lease",
    auth=ONE_HOST,
)
def heartbeat(request, build_host_id: str):
    """The lease runs `lease_seconds` from now. 409 `no_lease` for a host
    created without one, `lease_ended` once it is removed or failed."""
    host = buildhosts.get_visible(request.auth, build_host_id)
    return buildhosts.heartbeat(request.auth, host)


@router.post(
    "/build-hosts/{build_host_id}/stop",
    response={202: BuildHostOut, **errors(401, 403, 404, 409)},
    summary="Stop a ready build host, keeping its volumes",
    auth=ONE_HOST,
)
def stop_build_host(request, build_host_id: str):
    """202: a worker stops its container (volumes kept; the state becomes
    `stopped`); POST .../resume starts it again. 409 `not_ready` unless the
    host is ready (a build running on it, say)."""
    host = buildhosts.get_visible(request.auth, build_host_id)
    return Status(202, buildhosts.request_stop(request.auth, host, request=request))


@router.post(
    "/build-hosts/{build_host_id}/resume",
    response={202: BuildHostOut, **errors(401, 403, 404, 409)},
    summary="Start a stopped build host again",
    auth=ONE_HOST,
)
def resume_build_host(request, build_host_id: str):
    """202: a worker starts its container (on whatever port the engine
    publishes now) and waits for its API; poll GET /build-hosts/{id} until
    `ready`. The owner's TLS bundle still opens it. 409 `not_stopped` unless
    the host is stopped; `cap_reached` when its owner runs as many as allowed."""
    host = buildhosts.get_visible(request.auth, build_host_id)
    return Status(202, buildhosts.request_resume(request.auth, host, request=request))


@router.delete(
    "/build-hosts/{build_host_id}",
    response={202: BuildHostOut, **CHANGE_ERRORS},
    summary="Remove a build host",
    auth=ONE_HOST,
)
def remove_build_host(request, build_host_id: str, volumes: str = ""):
    """202: the worker removes the container, and the volumes when
    `volumes=delete` (`keep` leaves them; omitted: the host's policy)."""
    host = buildhosts.get_visible(request.auth, build_host_id)
    host = buildhosts.request_removal(
        request.auth, host, volumes or None, request=request
    )
    return Status(202, host)


@router.get(
    "/build-hosts/{build_host_id}/tls-bundle",
    response={200: None, **CHANGE_ERRORS},
    summary="The owner's TLS bundle (zip: ca.pem, cert.pem, key.pem)",
    auth=ONE_HOST,
)
def tls_bundle(request, build_host_id: str):
    host = buildhosts.get_visible(request.auth, build_host_id)
    return attachment(
        buildhosts.tls_bundle(host), host.tls_bundle_filename, "application/zip"
    )


@router.get(
    "/build-hosts/{build_host_id}/docker-context",
    response={200: None, **CHANGE_ERRORS},
    summary="The owner's docker context (for `docker context import NAME FILE`)",
    auth=ONE_HOST,
)
def docker_context(request, build_host_id: str):
    """A tar as `docker context export` writes it: the host's address and the
    owner's TLS files. 409 `not_ready` unless the host is ready or busy."""
    host = buildhosts.get_visible(request.auth, build_host_id)
    return attachment(
        connect.docker_context_file(host),
        connect.docker_context_filename(host),
        "application/x-tar",
    )


@router.get(
    "/build-hosts/{build_host_id}/inside",
    response={200: InsideOut, **errors(401, 404, 409, 503)},
    summary="Inside a build host: its containers, images and disk use",
    auth=ONE_HOST,
)
def inside(request, build_host_id: str):
    """Read now from the host's own engine over dchweb's mutual TLS. 409
    `not_running` unless the host is ready or busy; 503 `engine_unavailable`
    (with the reason) when its engine does not answer."""
    host = buildhosts.get_visible(request.auth, build_host_id)
    seen = buildhosts.look_inside(host)
    return {
        "containers": seen.containers,
        "images": seen.images,
        "disk": seen.disk,
        "last_trim": buildhosts.last_trim(host),
    }


@router.post(
    "/build-hosts/{build_host_id}/trim",
    response={202: TrimOut, **errors(401, 403, 404, 409)},
    summary="Prune a build host's dangling images and build cache",
    auth=ONE_HOST,
)
def trim(request, build_host_id: str):
    """202: a worker prunes them; GET .../inside shows `last_trim` with the
    bytes reclaimed once done. A trim already running is returned as it is.
    409 `not_ready` unless the host is ready (not busy with a build)."""
    host = buildhosts.get_visible(request.auth, build_host_id)
    buildhosts.request_trim(request.auth, host, request=request)
    return Status(202, buildhosts.last_trim(host))
