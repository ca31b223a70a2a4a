"""Pushed images in Chromium on /images/: a developer finds their image
(reached from the navigation), Delete asks first (dismissed: nothing
happens), then removes the manifest at the devstack's real registry. An
admin sees everyone's, with the owner. At 390 px nothing scrolls sideways."""

import uuid

import pytest

from hosts.lib import registry_check
from hosts.models import AuditEvent, PushedImage
from tests.support.browser import sign_in, until
from tests.support.images import push_hello_image, remove_at_registry

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def image(engine, devstack, busybox, registry, developer):
    """alice's image, pushed for real to the devstack registry."""
    repository = f"default-project/browser-{uuid.uuid4().hex[:8]}"
    reference = f"{devstack['registry']}/{repository}:1"
    digest = push_hello_image(engine, devstack, busybox, reference)
    made = PushedImage.objects.create(
        owner=developer,
        registry=registry,
        reference=reference,
        repository=repository,
        digest=digest,
        size_bytes=1_200_000,
    )
    yield made
    remove_at_registry(made)


def served(image):
    registry = image.registry
    try:
        return registry_check.manifest_digest(
            image.address,
            image.repository,
            image.digest,
            ca_pem=registry.ca_pem,
            username=registry.username,
            password=registry.get_password(),
        )
    except registry_check.ManifestUnavailable:
        return None


def test_a_developer_deletes_their_image_after_confirming(live_server, page, image):
    sign_in(page, live_server, "alice", "alice-password-1")
    page.click("header nav a:text-is('Images')")
    page.wait_for_url(f"{live_server.url}/images/")
    row = page.locator(f"#pushed-image-{image.pk}")
    assert image.reference in row.text_content()
    assert "1.1\xa0MB" in row.text_content()  # filesizeformat keeps it on one line

    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Delete").click()
    assert row.is_visible()
    assert served(image) == image.digest

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()

    page.wait_for_function(
        until(f"!document.querySelector('#pushed-image-{image.pk}')")
    )
    assert "deleted at the registry" in page.locator("#messages").text_content()
    assert served(image) is None
    image.refresh_from_db()
    assert image.deleted_at is not None
    assert AuditEvent.objects.filter(action="pushed_image.deleted").count() == 1


def test_an_admin_sees_everyones_images_with_the_owner(live_server, page, image, admin):
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/images/")

    row = page.locator(f"#pushed-image-{image.pk}")
    assert "alice" in row.text_content()
    assert page.get_by_role("columnheader", name="Owner").is_visible()


def test_the_page_fits_a_phone(live_server, page, image):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/images/")

    assert page.locator(f"#pushed-image-{image.pk}").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
