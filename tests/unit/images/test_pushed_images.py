"""Pushed images without a registry: who sees which, what a registry's
answer to a delete means, what is refused before asking it, and the page.
(The real registry: tests/integration/images/.)"""

import importlib

import pytest
from django.apps import apps

from hosts.core.errors import Conflict, NotFound
from hosts.images import commands as images
from hosts.lib import registry_manifests
from hosts.lib.registry_manifests import DeleteOutcome
from hosts.models import (
    AuditEvent,
    Build,
    BuildHost,
    Endpoint,
    PushedImage,
    Registry,
)
from tests.support import world

pytestmark = pytest.mark.django_db

DIGEST = "sha256:" + "ab" * 32
ADDRESS = "registry.example:5443"


@pytest.fixture
def registry():
    made = Registry(name="r", address=ADDRESS, username="ci")
    made.set_password("pw")
    made.save()
    return made


@pytest.fixture
def image(developer, registry):
    return push(developer, registry, "default-project/app:1")


def push(owner, registry, name, digest=DIGEST):
    return PushedImage.objects.create(
        owner=owner,
        registry=registry,
        reference=f"{ADDRESS}/{name}",
        repository=name.rsplit(":", 1)[0],
        digest=digest,
        size_bytes=2048,
    )


@pytest.fixture
def registry_says(monkeypatch):
    """The registry's answer to the delete, and the calls made."""
    calls = []

    def answer(outcome):
        def delete_manifest(*args, **kwargs):
            calls.append((args, kwargs))
            return outcome

        monkeypatch.setattr(registry_manifests, "delete_manifest", delete_manifest)
        return calls

    return answer


DELETED = DeleteOutcome(True, "deleted", "the registry deleted the manifest")


# --- What the registry's answer means --------------------------------------------


@pytest.mark.parametrize(
    ("status", "deleted", "reason"),
    [
        (202, True, "deleted"),
        (404, True, "gone"),
        (405, False, "deletes_disabled"),
        (401, False, "denied"),
        (403, False, "denied"),
        (500, False, "failed"),
    ],
)
def test_each_answer_to_a_delete_has_its_reason(status, deleted, reason):
    outcome = registry_manifests._outcome(status, ADDRESS)

    assert (outcome.deleted, outcome.reason) == (deleted, reason)
    assert ADDRESS in outcome.message or deleted


@pytest.mark.parametrize(
    ("manifest", "size"),
    [
        ({"config": {"size": 10}, "layers": [{"size": 5}, {"size": 7}]}, 22),
        ({"manifests": [{"size": 500}]}, None),  # an index: no layers of its own
        ({"config": {"size": "x"}, "layers": []}, None),
        (None, None),
    ],
)
def test_a_manifests_size_is_its_config_and_layers(manifest, size):
    assert registry_manifests._stored_bytes(manifest) == size


# --- Who sees which ------------------------------------------------------------


def test_a_developer_sees_their_own_and_an_admin_everyones(
    developer, other_developer, admin, registry, image
):
    theirs = push(other_developer, registry, "default-project/other:1")

    assert list(images.visible_pushed_images(developer)) == [image]
    assert set(images.visible_pushed_images(admin)) == {image, theirs}
    with pytest.raises(NotFound):
        images.get_pushed_image(developer, theirs.pk)
    with pytest.raises(NotFound):
        images.get_pushed_image(developer, "not-a-number")


# --- Deleting ----------------------------------------------------------------------


def test_a_delete_marks_every_tag_of_the_manifest_and_is_audited(
    developer, registry, image, registry_says
):
    calls = registry_says(DELETED)
    sibling = push(developer, registry, "default-project/app:latest")
    elsewhere = push(developer, registry, "default-project/other:1")

    images.delete_pushed_image(developer, image, source="ui")

    ((args, kwargs),) = calls
    assert args == (ADDRESS, "default-project/app", DIGEST)
    assert (kwargs["username"], kwargs["password"]) == ("ci", "pw")
    deleted = set(PushedImage.objects.exclude(deleted_at=None))
    assert deleted == {image, sibling}
    assert elsewhere not in deleted
    event = AuditEvent.objects.get(action="pushed_image.deleted")
    assert event.details["tags_deleted"] == sorted([image.reference, sibling.reference])
    # Deleted already: the registry is not asked again, nothing is recorded.
    images.delete_pushed_image(developer, image, source="ui")
    assert len(calls) == 1
    assert AuditEvent.objects.filter(action="pushed_image.deleted").count() == 1


@pytest.mark.parametrize(
    ("outcome", "error", "code"),
    [
        (
            DeleteOutcome(False, "deletes_disabled", "no deletes"),
            Conflict,
            "deletes_disabled",
        ),
        (DeleteOutcome(False, "denied", "may not"), Conflict, "denied"),
        (
            DeleteOutcome(False, "unreachable", "timed out"),
            Conflict,
            "registry_unreachable",
        ),
    ],
)
def test_a_refusal_is_said_and_nothing_is_marked(
    developer, image, registry_says, outcome, error, code
):
    registry_says(outcome)

    with pytest.raises(error) as refused:
        images.delete_pushed_image(developer, image, source="ui")

    assert refused.value.code == code
    assert refused.value.message == outcome.message
    image.refresh_from_db()
    assert image.deleted_at is None
    assert not AuditEvent.objects.filter(action="pushed_image.deleted").exists()


def test_an_image_a_build_host_runs_from_is_not_deleted(
    developer, image, registry_says
):
    calls = registry_says(DELETED)
    endpoint = world.unreachable_endpoint()
    BuildHost.objects.create(
        name="busy",
        owner=developer,
        endpoint=endpoint,
        image=image.reference,
        state=BuildHost.State.READY,
        expires_at=image.pushed_at,
    )

    with pytest.raises(Conflict) as refused:
        images.delete_pushed_image(developer, image, source="ui")

    assert refused.value.code == "in_use"
    assert "build host busy runs from" in refused.value.message
    assert calls == []


def test_an_endpoints_default_image_is_not_deleted(developer, image, registry_says):
    calls = registry_says(DELETED)
    world.unreachable_endpoint(default_image=image.reference)

    with pytest.raises(Conflict) as refused:
        images.delete_pushed_image(developer, image, source="ui")

    assert "endpoint local starts its build hosts from" in refused.value.message
    assert calls == [] and Endpoint.objects.count() == 1


def test_an_image_of_a_registry_dchweb_forgot_says_so(
    developer, image, registry, registry_says
):
    calls = registry_says(DELETED)
    PushedImage.objects.update(registry=None)
    registry.delete()
    image.refresh_from_db()

    with pytest.raises(Conflict) as refused:
        images.delete_pushed_image(developer, image, source="ui")

    assert refused.value.code == "registry_unknown"
    assert calls == []


# --- The page -------------------------------------------------------------------


def test_the_page_lists_mine_with_size_build_and_a_confirmed_delete(
    client, developer, other_developer, registry, image
):
    push(other_developer, registry, "default-project/secret:1")
    client.force_login(developer)

    page = client.get("/images/").content.decode()

    assert image.reference in page
    assert "secret" not in page
    assert "2.0\xa0KB" in page
    assert DIGEST[:19] in page and f'title="{DIGEST}"' in page
    assert f'action="/images/{image.pk}/delete"' in page
    assert "hx-confirm=" in page


def test_the_page_says_why_a_delete_was_refused(
    client, developer, image, registry_says
):
    registry_says(
        registry_manifests._outcome(405, ADDRESS)
    )  # as a registry without deletes answers
    client.force_login(developer)

    response = client.post(f"/images/{image.pk}/delete", follow=True)

    page = response.content.decode()
    assert (
        f"{image.reference} not deleted: the registry {ADDRESS} does not allow deletes"
        in page
    )
    image.refresh_from_db()
    assert image.deleted_at is None


def test_anothers_image_is_not_found_on_the_page(
    client, other_developer, image, registry_says
):
    calls = registry_says(DELETED)
    client.force_login(other_developer)

    assert client.post(f"/images/{image.pk}/delete").status_code == 404
    assert client.get(f"/images/{image.pk}/delete").status_code == 405
    assert calls == []


# --- Images pushed before the list existed (migration 0013) -----------------------


def test_past_pushes_are_listed_by_the_migration(developer, registry):
    migration = importlib.import_module(
        "hosts.migrations.0013_pushed_images_and_token_submissions"
    )
    tags = [f"{ADDRESS}/default-project/old:1", f"{ADDRESS}/default-project/old:2"]
    pushed = Build.objects.create(
        owner=developer, registry=registry, tags=tags, digest=DIGEST, state="succeeded"
    )
    Build.objects.create(
        owner=developer, tags=["local:1"], push=False, state="succeeded"
    )
    Build.objects.create(owner=developer, tags=tags, state="failed")

    migration.list_past_pushes(apps, None)
    migration.list_past_pushes(apps, None)  # run twice: still one row a tag

    rows = PushedImage.objects.order_by("reference")
    assert [row.reference for row in rows] == tags
    assert {(row.build, row.digest, row.size_bytes) for row in rows} == {
        (pushed, DIGEST, None)
    }
    assert rows[0].repository == "default-project/old"
