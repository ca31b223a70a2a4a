"""An owner answers a clean-up notice in Chromium: with the home page open,
an admin sends a plan of the owner's volumes left behind (on the devstack
engine) as a notice; it shows without a reload, and the owner keeps one
volume (with a reason) and releases the other from the page, each answer
shown at once."""

import contextlib
import uuid

import docker.errors
import pytest

from hosts.core import installation
from hosts.models import CleanupItem
from hosts.volumes import ledger
from tests.support import world
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The notice fragment polls every 5 s; a little more than two polls.
SHOWS_WITHIN_MS = 12_000


@pytest.fixture
def left_behind(engine):
    """Two volumes of alice's that a removed build host left behind."""
    tag = uuid.uuid4().hex[:8]
    labels = {
        "io.dchweb.managed": "true",
        "io.dchweb.installation": installation.installation_id(),
        "io.dchweb.owner": "alice",
        "io.dchweb.role": "docker-data",
    }
    names = [
        engine.volumes.create(f"ui-notice-{tag}-{n}", labels=labels).name
        for n in ("keep", "release")
    ]
    yield names
    for name in names:
        with contextlib.suppress(docker.errors.NotFound):
            engine.volumes.get(name).remove(force=True)


def item(name):
    return f'#my-notices li[data-volume="{name}"]'


def test_an_owner_keeps_one_volume_and_releases_another_without_a_reload(
    live_server, page, celery_worker, developer, admin, endpoint, left_behind
):
    kept, released = left_behind
    ledger.refresh(endpoint)
    sign_in(page, live_server, "alice", "alice-password-1")
    assert page.locator("#my-notices li").count() == 0

    sent = world.api_client(admin).post(
        "/api/v1/cleanup-plans",
        data={"endpoint_id": endpoint.pk, "notice_days": 2, "keep_days_allowed": 7},
        content_type="application/json",
    )
    assert sent.status_code == 201, sent.content

    page.wait_for_selector(item(kept), timeout=SHOWS_WITHIN_MS)
    page.fill(f"{item(kept)} input[name=reason]", "the nightly build's cache")
    page.fill(f"{item(kept)} input[name=days]", "5")
    page.click(f"{item(kept)} button:text('Keep')")
    page.wait_for_function(
        until(f"document.querySelector('{item(kept)}')?.dataset.answer === 'keep'")
    )
    page.click(f"{item(released)} button:text('Release')")
    page.wait_for_function(
        until(
            f"document.querySelector('{item(released)}')?.dataset.answer === 'release'"
        )
    )

    assert "the nightly build's cache" in page.inner_text(item(kept))
    assert "Released" in page.inner_text(item(released))
    answers = dict(
        CleanupItem.objects.filter(volume_name__in=left_behind).values_list(
            "volume_name", "answer"
        )
    )
    assert answers == {kept: "keep", released: "release"}
