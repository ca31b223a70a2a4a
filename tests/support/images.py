"""Images pushed to a registry straight from the devstack engine, for tests
that need one at a registry without running a build."""

import contextlib
import io

import docker.errors

from hosts.lib import registry_manifests
from tests.support.contexts import hello_context
from tests.support.waiting import wait_until


def push_hello_image(engine, devstack, busybox, reference):
    """Build the busybox hello image on the devstack engine, push it as
    `reference` (address/repository:tag) with the devstack registry's login,
    drop it from the engine; its digest. A registry that does not listen
    yet is tried again."""
    repository, tag = reference.rsplit(":", 1)
    image, _ = engine.images.build(
        fileobj=io.BytesIO(hello_context(busybox)),
        custom_context=True,
        encoding="gzip",
        tag=reference,
        rm=True,
    )
    auth = {
        "username": devstack["registry_user"],
        "password": devstack["registry_password"],
    }

    def pushed():
        try:
            output = engine.images.push(repository, tag=tag, auth_config=auth)
        except docker.errors.APIError:
            return None
        return "digest: sha256:" in output and output.split("digest: ")[1][:71]

    try:
        return wait_until(pushed, f"a push of {reference}", 60)
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            engine.images.remove(image.id, force=True)


def remove_at_registry(image) -> None:
    """A test's pushed image (a PushedImage row) no longer at its registry:
    its manifest deleted, if still there (a 404 is fine)."""
    registry = image.registry
    registry_manifests.delete_manifest(
        image.address,
        image.repository,
        image.digest,
        ca_pem=registry.ca_pem,
        username=registry.username,
        password=registry.get_password(),
    )
