"""The "Inside" section of a build host's page, in Chromium at a phone's
width: it loads by itself what dchweb reads from the host's own engine
(an image built in it, a dangling one), and Trim, double-clicked, prunes
once and shows the space reclaimed without a reload."""

import pytest

from hosts.models import BuildHost, BuildHostStep
from tests.integration.buildhosts.test_inside import TAG, build_inside, host_engine
from tests.support.browser import sign_in, until
from tests.support.hostcheck import new_host, wait_settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def ready_host(celery_worker, endpoint, registry, developer, leftovers):
    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    assert host.state == BuildHost.State.READY, host.error
    return host


def test_inside_shows_the_hosts_images_and_trim_reclaims_the_dangling_one(
    live_server, page, ready_host, tmp_path
):
    client = host_engine(ready_host, tmp_path / "bundle")
    dangling_id = build_inside(client)
    build_inside(client)
    client.close()
    posts = []
    page.on(
        "request",
        lambda request: (
            request.method == "POST"
            and request.url.endswith("/trim")
            and posts.append(request.url)
        ),
    )
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "alice", "alice-password-1")

    page.goto(f"{live_server.url}/build-hosts/{ready_host.pk}/")

    inside = page.locator("#build-host-inside")
    inside.locator("code.image-tag", has_text=TAG).wait_for()
    dangling = inside.locator(f"li[data-image='{dangling_id}']")
    assert dangling.get_attribute("data-dangling") == "true"
    assert "dangling" in dangling.inner_text()
    assert "Images" in inside.locator("table.disk-use").inner_text()
    assert inside.locator(".dangling-bytes").inner_text().endswith("KB")
    # Nothing in it is wider than the phone's screen.
    assert page.evaluate(
        "() => { const s = document.querySelector('#build-host-inside');"
        " return s.scrollWidth <= s.clientWidth"
        " && s.getBoundingClientRect().right <= window.innerWidth; }"
    )

    page.locator("#build-host-inside button.trim").dblclick()

    page.wait_for_function(
        until(
            "document.querySelector('#build-host-inside .last-trim')"
            "?.dataset.status == 'done'"
        )
    )
    result = inside.locator(".trim-result").inner_text()
    assert result.startswith("reclaimed ")
    assert ": 1 dangling image (" in result
    assert inside.locator(f"li[data-image='{dangling_id}']").count() == 0
    inside.locator("code.image-tag", has_text=TAG).wait_for()
    assert posts == [f"{live_server.url}/build-hosts/{ready_host.pk}/trim"]
    assert BuildHostStep.objects.filter(build_host=ready_host, name="trim").count() == 1
    # The trim is on the host's timeline too, with what it reclaimed.
    page.reload()
    row = page.locator("#build-host-status tr[data-step='trim']")
    assert row.get_attribute("data-status") == "done"
    assert "reclaimed" in row.inner_text()


def test_another_developer_does_not_see_inside_a_host(
    live_server, browser, ready_host, other_developer
):
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server, "bob", "bob-password-1")

    for path in ("", "inside"):
        response = page.goto(f"{live_server.url}/build-hosts/{ready_host.pk}/{path}")
        assert response.status == 404
    context.close()
