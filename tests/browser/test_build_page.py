"""A build started from a build host's page, in Chromium: its log lines
appear in the page while the build still runs, and its end shows without a
reload."""

import pytest

from hosts.models import Build, BuildHost
from tests.support.browser import sign_in
from tests.support.contexts import slow_context
from tests.support.hostcheck import new_host, wait_settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_build_from_the_page_shows_its_log_live(
    page,
    live_server,
    celery_worker,
    endpoint,
    registry,
    developer,
    busybox,
    tmp_path,
    leftovers,
):
    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    assert host.state == BuildHost.State.READY, host.error
    context = tmp_path / "context.tar"
    context.write_bytes(slow_context(busybox, seconds=4))
    sign_in(page, live_server, "dev", "dev-password-1")

    page.goto(f"{live_server.url}/build-hosts/{host.pk}/")
    page.set_input_files("input[name=context]", str(context))
    page.fill("input[name=tag]", "dchweb-ui/slow:1")
    page.uncheck("input[name=push]")
    page.click("form.build-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/builds/**")
    build = Build.objects.get()

    page.wait_for_function(
        "document.querySelector('#build-log').textContent.includes('sleeping')",
        timeout=60_000,
    )
    build.refresh_from_db()
    assert not build.is_final, "the log line should show while the build still runs"
    page.wait_for_function(
        "document.querySelector('#build-status').dataset.state == 'succeeded'",
        timeout=60_000,
    )
    # The rest of the log follows, still without a reload.
    page.wait_for_function(
        "document.querySelector('#build-log').textContent"
        ".includes('Successfully built')"
    )
    build.refresh_from_db()
    assert build.state == Build.State.SUCCEEDED
