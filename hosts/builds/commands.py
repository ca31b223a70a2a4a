"""Build use cases: ask for a build (and push), see it, read its log, cancel it.

The work runs in a Celery task (hosts/builds/runner.py). A build runs on one of
the owner's ready build hosts, or on an ephemeral one it asks for here (so
caps refuse it at once) and removes when it ends.
"""

import json
import re

from django.db import transaction
from django.utils import timezone

from hosts.buildhosts import commands as buildhosts
from hosts.builds import contexts, tasks
from hosts.core import audit, permissions
from hosts.core.errors import Invalid, NotFound
from hosts.core.queue import enqueue_on_commit
from hosts.models import Build, Registry

MAX_TAGS = 10
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = re.compile(
    rf"^(?P<registry>[A-Za-z0-9.-]+(?::[0-9]+)?)/(?P<path>{_COMPONENT}(?:/{_COMPONENT})+)"
    r":(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$"
)
_LOCAL_TAG = re.compile(
    rf"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$"
)
_BUILD_ARG = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_CACHE_FROM = 10
MAX_LABELS = 50
MAX_LABEL_VALUE = 1000
_TARGET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$")
# dchweb's own labels say whose a container or volume is: an image does not
# claim them.
_RESERVED_LABELS = "io.dchweb."


class BuildInvalid(Invalid):
    code = "invalid_build"


class BuildNotFound(NotFound):
    pass


# --- Who sees what ------------------------------------------------------------------


def _builds():
    return Build.objects.select_related("owner", "build_host", "registry")


def visible_to(user):
    return permissions.visible_to(user, _builds())


def get_visible(user, build_id) -> Build:
    not_found = BuildNotFound(f"no build {build_id}")
    return permissions.get_visible(user, _builds(), build_id, not_found)


# --- Asking for a build -------------------------------------------------------------


def create_build(
    actor, data: dict, *, upload=None, then=None, source=None, request=None
) -> Build:
    """Check everything, store the context, save the build and enqueue it;
    `then(build)` runs in the same transaction (rows that go with it).
    Raises BuildInvalid (nothing stored) or buildhosts.BuildHostConflict (an
    ephemeral host over a cap)."""
    push = _bool(data.get("push", True))
    registry = _registry(data.get("registry_id"))
    tags = _tags(data.get("tags") or data.get("tag"), push, registry)
    registry = registry or (_registry_of(tags[0]) if push else None)
    dockerfile = _clean_dockerfile(data.get("dockerfile"))
    build_args = _build_args(data.get("build_args"))
    options = _build_options(data)
    host, endpoint = _where(actor, data)
    context = _store_context(upload, data, dockerfile)
    ephemeral = host is None
    try:
        if ephemeral:
            host = _ephemeral_host(actor, endpoint, data, source, request)
        with transaction.atomic():
            build = Build.objects.create(
                owner=actor,
                build_host=host,
                endpoint=host.endpoint if ephemeral else None,
                ephemeral=ephemeral,
                volume_policy=host.policy_label,
                registry=registry,
                context_name=context.name,
                context_bytes=context.size,
                dockerfile=dockerfile,
                build_args=build_args,
                tags=tags,
                push=push,
                **options,
            )
            audit.record(
                actor,
                "build.created",
                build,
                {"tags": tags, "push": push, "build_host": str(host.pk)},
                source=source,
                request=request,
            )
            if then is not None:
                then(build)
            enqueue_on_commit(tasks.run_build, str(build.pk))
    except BaseException:
        contexts.discard(context.name)
        raise
    return build


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() not in ("0", "false", "no", "off", "")


def _registry(registry_id):
    if registry_id in (None, ""):
        return None
    try:
        return Registry.objects.get(pk=int(registry_id))
    except (Registry.DoesNotExist, ValueError, TypeError):
        raise BuildInvalid(
            f"no registry with id {registry_id}", "registry_id"
        ) from None


def _tags(value, push, registry) -> list[str]:
    if isinstance(value, str):
        value = [part for part in re.split(r"[\s,]+", value) if part]
    tags = list(value or [])
    if not tags:
        raise BuildInvalid("give at least one tag", "tag")
    if len(tags) > MAX_TAGS:
        raise BuildInvalid(f"at most {MAX_TAGS} tags", "tag")
    for tag in tags:
        _check_tag(str(tag), push, registry)
    return [str(tag) for tag in tags]


def _check_tag(tag, push, registry):
    if not push:
        if not _LOCAL_TAG.match(tag):
            raise BuildInvalid(f"{tag!r} is not a valid image name", "tag")
        return
    match = _TAG.match(tag)
    if not match:
        raise BuildInvalid(
            f"{tag!r} is not <registry>/<project>/<name>:<tag> (lower case; the "
            "tag after a colon)",
            "tag",
        )
    address = match["registry"]
    if registry is not None and address != registry.address:
        raise BuildInvalid(
            f"{tag!r} is not in registry {registry.address}, the push target", "tag"
        )
    if registry is None and _registry_of(tag) is None:
        raise BuildInvalid(
            f"{address} is not a registry dchweb knows: an admin adds it on "
            "/registries/",
            "tag",
        )


def _registry_of(tag):
    return Registry.objects.filter(address=tag.split("/", 1)[0]).first()


def _clean_dockerfile(dockerfile):
    try:
        return contexts.clean_dockerfile_path(dockerfile)
    except contexts.ContextInvalid as error:
        raise BuildInvalid(error.message, "dockerfile") from None


def _json_object(value, shape: str, field: str) -> dict:
    """A JSON object given as text (a form) or as an object (the API)."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise BuildInvalid(shape, field) from None
    if not isinstance(value, dict):
        raise BuildInvalid(shape, field)
    return value


def _build_args(value) -> dict[str, str]:
    value = _json_object(
        value, 'the build arguments are a JSON object: {"NAME": "value"}', "build_args"
    )
    for name, arg in value.items():
        if not _BUILD_ARG.match(str(name)) or not isinstance(arg, str | int | float):
            raise BuildInvalid(
                f"build argument {name!r}: names are letters, digits and _, values "
                "are text",
                "build_args",
            )
    return {str(name): str(arg) for name, arg in value.items()}


def _build_options(data) -> dict:
    """The `docker build` options beyond the Dockerfile and its arguments."""
    return {
        "cache_from": _cache_from(data.get("cache_from")),
        "target": _target(data.get("target")),
        "no_cache": _bool(data.get("no_cache", False)),
        "pull": _bool(data.get("pull", False)),
        "labels": _labels(data.get("labels")),
    }


def _cache_from(value) -> list[str]:
    """Image names, as a list or space/comma separated (either or both)."""
    if value in (None, ""):
        return []
    parts = [value] if isinstance(value, str) else list(value)
    images = [
        image for part in parts for image in re.split(r"[\s,]+", str(part)) if image
    ]
    if len(images) > MAX_CACHE_FROM:
        raise BuildInvalid(f"at most {MAX_CACHE_FROM} cache images", "cache_from")
    for image in images:
        if not _LOCAL_TAG.match(image):
            raise BuildInvalid(
                f"{image!r} is not an image name (cache images are named like "
                "tags: <registry>/<project>/<name>:<tag>)",
                "cache_from",
            )
    return list(dict.fromkeys(images))


def _target(value) -> str:
    target = str(value or "").strip()
    if target and not _TARGET.match(target):
        raise BuildInvalid(
            f"{target!r} is not a stage name (the name after AS in a FROM line)",
            "target",
        )
    return target


def _labels(value) -> dict[str, str]:
    value = _json_object(
        value, 'the labels are a JSON object: {"org.example.team": "web"}', "labels"
    )
    if len(value) > MAX_LABELS:
        raise BuildInvalid(f"at most {MAX_LABELS} labels", "labels")
    for key, text in value.items():
        _check_label(str(key), text)
    return {str(key): str(text) for key, text in value.items()}


def _check_label(key, text):
    if not _LABEL_KEY.match(key):
        raise BuildInvalid(
            f"label {key!r}: names are letters, digits, dots, dashes and slashes",
            "labels",
        )
    if key.startswith(_RESERVED_LABELS):
        raise BuildInvalid(
            f"label {key!r}: names that start with {_RESERVED_LABELS} are dchweb's own",
            "labels",
        )
    if not isinstance(text, str | int | float) or len(str(text)) > MAX_LABEL_VALUE:
        raise BuildInvalid(
            f"label {key!r}: values are text of at most {MAX_LABEL_VALUE} characters",
            "labels",
        )


def _where(actor, data):
    """(the build host, None) or (None, the endpoint of an ephemeral host),
    that endpoint None when the request names none (dchweb places it)."""
    host_id, endpoint_id = data.get("build_host_id"), data.get("endpoint_id")
    named_endpoint = endpoint_id not in (None, "")
    if host_id and named_endpoint:
        raise BuildInvalid(
            "give build_host_id (one of your ready build hosts) or endpoint_id "
            "(for a build host made for this build), not both; neither: dchweb "
            "chooses the endpoint of a build host made for this build",
            "build_host_id",
        )
    if not host_id and not named_endpoint:
        return None, None
    if named_endpoint:
        try:
            return None, buildhosts.endpoint_for_request(endpoint_id)
        except buildhosts.BuildHostInvalid as error:
            raise BuildInvalid(error.message, "endpoint_id") from None
    try:
        host = buildhosts.get_visible(actor, host_id)
    except buildhosts.BuildHostNotFound:
        raise BuildInvalid(f"no build host {host_id}", "build_host_id") from None
    if not host.is_running:
        raise BuildInvalid(
            f"build host {host.name} is {host.state}, not ready", "build_host_id"
        )
    return host, None


def _store_context(upload, data, dockerfile):
    try:
        if upload is not None:
            return contexts.store_upload(upload, dockerfile)
        if dockerfile != "Dockerfile":
            raise contexts.ContextInvalid(
                "a written Dockerfile is always named Dockerfile: upload an archive "
                "to use another path"
            )
        return contexts.store_written(
            data.get("dockerfile_text") or "", data.get("files")
        )
    except contexts.ContextInvalid as error:
        raise BuildInvalid(error.message, "context") from None


def _ephemeral_host(actor, endpoint, data, source, request):
    wanted = {
        "endpoint_id": endpoint.pk if endpoint is not None else None,
        "volume_policy": data.get("volume_policy") or "delete",
        "ttl_minutes": data.get("ttl_minutes") or 120,
    }
    try:
        host, _ = buildhosts.create_build_host(
            actor, wanted, provision=False, source=source, request=request
        )
    except buildhosts.BuildHostInvalid as error:
        raise BuildInvalid(error.message, error.field) from None
    return host


# --- Cancelling ---------------------------------------------------------------------


def cancel(actor, build: Build, *, source=None, request=None) -> Build:
    """Ask a build to stop. A queued one is cancelled at once; a running one
    stops at its next step (its build host stays usable)."""
    with transaction.atomic():
        build = Build.objects.select_for_update().get(pk=build.pk)
        if build.is_final or build.cancel_requested:
            return build
        build.cancel_requested = True
        fields = ["cancel_requested", "updated_at"]
        if build.state == Build.State.QUEUED and not build.lease_owner:
            build.state = Build.State.CANCELLED
            build.finished_at = timezone.now()
            fields += ["state", "finished_at"]
        build.save(update_fields=fields)
        audit.record(
            actor,
            "build.cancel_requested",
            build,
            {"was": build.state},
            source=source,
            request=request,
        )
    return build
