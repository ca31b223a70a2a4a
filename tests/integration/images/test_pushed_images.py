"""Pushed images against the devstack's real TLS registry: a real build
pushes an image, /api/v1/images lists it for its owner (and admins) with its
size and build, and DELETE removes its manifest at the registry, audited."""

import pytest
from django.test import Client

from hosts.lib import registry_check
from hosts.models import AuditEvent, Build, PushedImage
from tests.support import world
from tests.support.builds import post_build, unique_tag, wait_final
from tests.support.contexts import hello_context
from tests.support.images import remove_at_registry

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def as_developer(developer_token):
    return Client(HTTP_AUTHORIZATION=f"Bearer {developer_token}")


@pytest.fixture
def pushed(ready_host, as_developer, devstack, busybox):
    """A build of alice's that pushed one image under two tags of one
    repository (one manifest)."""
    tag = unique_tag(devstack)
    second = tag.rsplit(":", 1)[0] + ":2"
    answer = post_build(
        as_developer,
        hello_context(busybox),
        tag=f"{tag},{second}",
        build_host_id=ready_host.pk,
    )
    assert answer.status_code == 202, answer.content
    build = wait_final(answer.json()["id"])
    assert build.state == Build.State.SUCCEEDED, build.error
    yield build
    for image in PushedImage.objects.filter(build=build, deleted_at=None):
        remove_at_registry(image)


def served(registry, reference):
    """The digest the registry serves for `reference` now, or None."""
    address, rest = reference.split("/", 1)
    repository, tag = rest.rsplit(":", 1)
    try:
        return registry_check.manifest_digest(
            address,
            repository,
            tag,
            ca_pem=registry.ca_pem,
            username=registry.username,
            password=registry.get_password(),
        )
    except registry_check.ManifestUnavailable:
        return None


def test_a_pushed_image_is_listed_and_deleted_at_the_registry(
    pushed, registry, as_developer, developer
):
    listed = as_developer.get("/api/v1/images").json()

    assert sorted(row["reference"] for row in listed) == sorted(pushed.tags)
    first = next(row for row in listed if row["reference"] == pushed.tags[0])
    assert first["digest"] == pushed.digest
    assert first["build_id"] == str(pushed.pk)
    assert first["owner"] == developer.get_username()
    assert first["size_bytes"] > 0  # busybox, as the registry stores it
    assert first["deleted_at"] is None
    assert {served(registry, tag) for tag in pushed.tags} == {pushed.digest}

    answer = as_developer.delete(f"/api/v1/images/{first['id']}")

    assert answer.status_code == 200, answer.content
    assert answer.json()["deleted_by"] == developer.get_username()
    # The manifest is gone at the registry: both tags of it, and both rows.
    assert [served(registry, tag) for tag in pushed.tags] == [None, None]
    assert as_developer.get("/api/v1/images").json() == []
    with_deleted = as_developer.get("/api/v1/images?deleted=true").json()
    assert all(row["deleted_at"] for row in with_deleted)
    (event,) = AuditEvent.objects.filter(action="pushed_image.deleted")
    assert (event.actor, event.source) == (developer, "api")
    assert event.details["digest"] == pushed.digest
    assert sorted(event.details["tags_deleted"]) == sorted(pushed.tags)
    # Again (a double click): deleted already, nothing more happens.
    again = as_developer.delete(f"/api/v1/images/{first['id']}")
    assert again.status_code == 200
    assert AuditEvent.objects.filter(action="pushed_image.deleted").count() == 1


def test_only_its_owner_and_admins_see_and_delete_it(
    pushed, registry, other_developer, admin
):
    image = PushedImage.objects.filter(build=pushed).first()
    as_bob = world.api_client(other_developer)
    as_admin = world.api_client(admin)

    assert as_bob.get("/api/v1/images").json() == []
    assert as_bob.get(f"/api/v1/images/{image.pk}").status_code == 404
    assert as_bob.delete(f"/api/v1/images/{image.pk}").status_code == 404
    assert served(registry, image.reference) == pushed.digest
    assert {row["id"] for row in as_admin.get("/api/v1/images").json()} == set(
        PushedImage.objects.filter(build=pushed).values_list("pk", flat=True)
    )

    answer = as_admin.delete(f"/api/v1/images/{image.pk}")

    assert answer.status_code == 200, answer.content
    assert served(registry, image.reference) is None


def test_a_read_only_token_cannot_delete(pushed, registry, developer):
    image = PushedImage.objects.filter(build=pushed).first()
    _, plaintext = world.accounts.create_api_token(
        developer, "ro", actor=None, source="cli", scope="read"
    )
    as_reader = Client(HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    assert as_reader.get("/api/v1/images").status_code == 200
    answer = as_reader.delete(f"/api/v1/images/{image.pk}")

    assert answer.status_code == 403
    assert served(registry, image.reference) == pushed.digest
