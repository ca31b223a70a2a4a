"""Build-host images with registry CAs embedded (the seed's preferred method:
"you only need to perform the operation once"). An admin builds one on an
ephemeral build host; build hosts from it get no CA copied in, and still
prove at `verify_registry` that the embedded CA works."""

from django.db import transaction
from django.utils import timezone

from hosts.builds import commands as builds
from hosts.core import audit
from hosts.core.errors import Invalid
from hosts.models import BuildHostImage, Endpoint, Registry

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
