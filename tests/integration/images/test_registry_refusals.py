"""A registry that refuses deletes, for real: a second devstack registry
with deletes disabled (Distribution's default), holding an image pushed to
it. dchweb's Delete is refused in words and marks nothing."""

import contextlib

import docker.errors
import pytest
from django.test import Client

from hosts.models import AuditEvent, PushedImage, Registry
from tests.support.buildhost import free_loopback_port
from tests.support.images import push_hello_image

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REGISTRY_IMAGE = "dchweb/registry:2.8"  # the devstack's (devstack/lib.sh)


@pytest.fixture
def no_delete_registry(engine, devstack):
    """The devstack's registry image, its certificate and login (valid for
    127.0.0.1), on a loopback port, with deletes disabled; removed after,
    with its storage."""
    main = engine.containers.get("dchweb-registry")
    certificates = next(
        mount["Source"]
        for mount in main.attrs["Mounts"]
        if mount["Destination"] == "/etc/dchweb-registry"
    )
    port = free_loopback_port()
    container = engine.containers.run(
        REGISTRY_IMAGE,
        detach=True,
        network=devstack["network"],
        ports={"5443/tcp": ("127.0.0.1", port)},
        volumes={certificates: {"bind": "/etc/dchweb-registry", "mode": "ro"}},
        environment={"REGISTRY_STORAGE_DELETE_ENABLED": "false"},
        labels={"io.dchweb.test": "images"},
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)


def test_a_registry_without_deletes_refuses_in_words(
    no_delete_registry, engine, devstack, busybox, developer, developer_token
):
    address = no_delete_registry
    repository = "default-project/kept"
    reference = f"{address}/{repository}:1"
    # The engine takes a loopback registry as its own, as Docker does.
    digest = push_hello_image(engine, devstack, busybox, reference)
    registry = Registry(
        name="no deletes",
        address=address,
        ca_pem=devstack["registry_ca"].decode(),
        username=devstack["registry_user"],
    )
    registry.set_password(devstack["registry_password"])
    registry.save()
    image = PushedImage.objects.create(
        owner=developer,
        registry=registry,
        reference=reference,
        repository=repository,
        digest=digest,
    )
    as_developer = Client(HTTP_AUTHORIZATION=f"Bearer {developer_token}")

    answer = as_developer.delete(f"/api/v1/images/{image.pk}")

    assert answer.status_code == 409, answer.content
    body = answer.json()
    assert body["error"] == "deletes_disabled"
    assert f"the registry {address} does not allow deletes" in body["detail"]
    assert "REGISTRY_STORAGE_DELETE_ENABLED" in body["detail"]
    image.refresh_from_db()
    assert image.deleted_at is None
    assert not AuditEvent.objects.filter(action="pushed_image.deleted").exists()
