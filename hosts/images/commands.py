"""Images, two kinds:

- build-host images with registry CAs embedded (the seed's preferred method:
  "you only need to perform the operation once"). An admin builds one on an
  ephemeral build host; build hosts from it get no CA copied in, and still
  prove at `verify_registry` that the embedded CA works;
- pushed images: what builds pushed through dchweb (/images/), listed for
  their owner (admins: all) and deleted at the registry by digest."""

from django.db import transaction
from django.utils import timezone

from hosts.builds import commands as builds
from hosts.core import audit
from hosts.core.errors import Conflict, Invalid, NotFound
from hosts.core.permissions import get_visible, visible_to
from hosts.lib import registry_manifests
from hosts.models import (
    BuildHost,
    BuildHostImage,
    Endpoint,
    PushedImage,
    Registry,
)

DEFAULT_NAME = "dch-photon-ca"


class ImageInvalid(Invalid):
    code = "invalid_image"


def create_ca_image(actor, data: dict, *, source=None, request=None) -> BuildHostImage:
    """Build `FROM <base>` plus the chosen registries' CAs and push it."""
    endpoint = _endpoint(data.get("endpoint_id"))
    embedded = _registries(data.get("registry_ids"))
    target = _target(data.get("registry_id"), embedded)
    base = (data.get("base_image") or "").strip() or endpoint.default_image
    if not base:
        raise ImageInvalid(
            "name a base image: the endpoint has no default", "base_image"
        )
    tag = (data.get("tag") or "").strip() or timezone.now().strftime("%Y%m%d-%H%M%S")
    name = (data.get("name") or "").strip() or DEFAULT_NAME
    ref = f"{target.address}/{target.project}/{name}:{tag}"
    files = {f"certs.d/{r.address}/ca.crt": r.ca_pem for r in embedded}
    dockerfile = (
        f"FROM {base}\n"
        "COPY certs.d/ /etc/docker/certs.d/\n"
        f'LABEL io.dchweb.embedded-cas="{",".join(r.address for r in embedded)}"\n'
    )
    made = {}

    def record_image(build):
        image = BuildHostImage.objects.create(
            ref=ref, base_image=base, build=build, created_by=actor
        )
        image.registries.set(embedded)
        audit.record(
            actor,
            "build_host_image.created",
            image,
            {"embedded": [r.address for r in embedded], "build": str(build.pk)},
            source=source,
            request=request,
        )
        made["image"] = image

    try:
        builds.create_build(
            actor,
            {
                "endpoint_id": endpoint.pk,
                "registry_id": target.pk,
                "tag": ref,
                "dockerfile_text": dockerfile,
                "files": files,
                "push": True,
            },
            then=record_image,
            source=source,
            request=request,
        )
    except builds.BuildInvalid as error:
        raise ImageInvalid(error.message, error.field) from None
    return made["image"]


def _endpoint(endpoint_id):
    endpoint = Endpoint.objects.filter(pk=endpoint_id).first() if endpoint_id else None
    if endpoint is None:
        raise ImageInvalid(f"no endpoint with id {endpoint_id}", "endpoint_id")
    return endpoint


def _registries(registry_ids):
    if not registry_ids:
        raise ImageInvalid("choose the registries whose CAs to embed", "registry_ids")
    found = list(Registry.objects.filter(pk__in=registry_ids))
    if len(found) != len(set(registry_ids)):
        raise ImageInvalid("some of registry_ids are not registries", "registry_ids")
    without = [r.address for r in found if not r.ca_pem]
    if without:
        raise ImageInvalid(
            f"these registries have no CA certificate to embed: {', '.join(without)}",
            "registry_ids",
        )
    return found


def _target(registry_id, embedded):
    if not registry_id:
        return embedded[0]
    target = Registry.objects.filter(pk=registry_id).first()
    if target is None:
        raise ImageInvalid(f"no registry with id {registry_id}", "registry_id")
    return target


def embedded_registry_ids(image_ref: str) -> set[int]:
    """Registries whose CA a ready dchweb-made image already holds."""
    return set(
        BuildHostImage.objects.filter(
            ref=image_ref, state=BuildHostImage.State.READY
        ).values_list("registries", flat=True)
    )


def build_finished(build) -> None:
    """The image of a finished build is ready (with its digest) or failed."""
    state = (
        BuildHostImage.State.READY
        if build.state == build.State.SUCCEEDED
        else BuildHostImage.State.FAILED
    )
    BuildHostImage.objects.filter(build=build).update(state=state, digest=build.digest)


@transaction.atomic
def make_default(actor, image: BuildHostImage, endpoint, *, source=None, request=None):
    if image.state != BuildHostImage.State.READY:
        raise ImageInvalid(f"the image is {image.state}, not ready")
    endpoint.default_image = image.ref
    endpoint.save(update_fields=["default_image", "updated_at"])
    audit.record(
        actor,
        "endpoint.default_image_set",
        endpoint,
        {"image": image.ref, "digest": image.digest},
        source=source,
        request=request,
    )
    return endpoint


# --- Pushed images ----------------------------------------------------------------


def visible_pushed_images(user, *, include_deleted=False):
    """The images `user` pushed through dchweb (admins: everyone's), newest
    first; deleted ones only when asked for."""
    images = PushedImage.objects.select_related("owner", "build", "registry")
    if not include_deleted:
        images = images.present()
    return visible_to(user, images)


def get_pushed_image(user, image_id) -> PushedImage:
    """One of the images `user` may see, deleted ones too; NotFound for
    another developer's as for a missing one."""
    return get_visible(
        user,
        PushedImage.objects.select_related("owner", "build", "registry"),
        image_id,
        NotFound(f"no pushed image with id {image_id}"),
    )


def delete_pushed_image(
    actor, image: PushedImage, *, source=None, request=None
) -> PushedImage:
    """Delete the image's manifest at its registry, by digest: every tag of
    its repository at that digest goes with it, and is listed as deleted
    too. Done on the request side (one short HTTP call, the person waits for
    the answer). Deleted already: nothing more to do. Refused while a
    build host or an endpoint uses one of those tags, when the registry
    refuses or does not answer: Conflict, with the reason as its code;
    nothing is marked then."""
    if image.is_deleted:
        return image
    same_manifest = _same_manifest(image)
    _refuse_in_use(image, same_manifest)
    registry = _registry_of(image)
    outcome = registry_manifests.delete_manifest(
        image.address,
        image.repository,
        image.digest,
        ca_pem=registry.ca_pem,
        username=registry.username,
        password=registry.get_password(),
    )
    if not outcome.deleted:
        # A registry that does not answer is a refusal too (409, not a 5xx:
        # dchweb itself is fine, and the same call may work later).
        code = "registry_unreachable" if outcome.reason == "unreachable" else None
        raise Conflict(outcome.message, code=code or outcome.reason)
    with transaction.atomic():
        now = timezone.now()
        # Only the rows still present: a second click that raced this one
        # finds them marked and records nothing more.
        marked = same_manifest.filter(deleted_at__isnull=True).update(
            deleted_at=now, deleted_by=actor
        )
        if marked:
            audit.record(
                actor,
                "pushed_image.deleted",
                image,
                {
                    "reference": image.reference,
                    "digest": image.digest,
                    "owner": image.owner.get_username(),
                    "tags_deleted": sorted(
                        same_manifest.values_list("reference", flat=True)
                    ),
                    "registry_said": outcome.reason,
                },
                source=source,
                request=request,
            )
    image.refresh_from_db()
    return image


def _same_manifest(image):
    """The rows the delete takes away: same registry, repository, digest."""
    return PushedImage.objects.filter(
        reference__startswith=f"{image.address}/",
        repository=image.repository,
        digest=image.digest,
    )


def _refuse_in_use(image, same_manifest):
    references = set(same_manifest.values_list("reference", flat=True))
    endpoint = Endpoint.objects.filter(default_image__in=references).first()
    if endpoint is not None:
        raise Conflict(
            f"endpoint {endpoint.name} starts its build hosts from "
            f"{endpoint.default_image}: choose another default image first",
            code="in_use",
        )
    host = (
        BuildHost.objects.filter(image__in=references, state__in=BuildHost.HELD_STATES)
        .order_by("created_at")
        .first()
    )
    if host is not None:
        raise Conflict(
            f"build host {host.name} runs from {host.image}: remove it first",
            code="in_use",
        )


def _registry_of(image) -> Registry:
    """The registry that holds the image, with the login dchweb uses for it
    (by address when the build named none)."""
    registry = image.registry or Registry.objects.filter(address=image.address).first()
    if registry is None:
        raise Conflict(
            f"{image.address} is no longer a registry dchweb knows, so dchweb has "
            "no login for it: add it under Registries, or delete the image at "
            "the registry itself",
            code="registry_unknown",
        )
    return registry
