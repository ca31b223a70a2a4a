"""A build started from the pages, in Chromium: its log lines appear in the
page while the build still runs, and its end shows without a reload.

On a ready build host's page (not pushed), and from home on a build host made
for the build (pushed to the devstack registry, then deployed by digest).
"""

import pytest

from hosts.models import Build, BuildHost, Deployment
from tests.support.browser import sign_in, until
from tests.support.contexts import hello_context, slow_context
from tests.support.hostcheck import new_host, wait_settled

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOG_HAS = "document.querySelector('#build-log')?.textContent.includes({text!r})"
STATE_IS = "document.querySelector('#build-status')?.dataset.state == {state!r}"


def log_has(text):
    return LOG_HAS.format(text=text)


def state_is(state):
    return STATE_IS.format(state=state)


FINAL = " || ".join(state_is(str(state.value)) for state in Build.FINAL_STATES)


def wait_succeeded(page, build, timeout):
    """Until the page shows the build final; then it must have succeeded
    (else the failure, not a timeout, says what happened)."""
    page.wait_for_function(until(FINAL), timeout=timeout)
    build.refresh_from_db()
    assert build.state == Build.State.SUCCEEDED, (
        f"{build.state} at {build.step}: {build.error_reason} {build.error}"
    )
    assert page.get_attribute("#build-status", "data-state") == "succeeded"


def test_a_build_on_a_host_shows_its_log_live_and_its_end(
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
    sign_in(page, live_server, "alice", "alice-password-1")

    page.goto(f"{live_server.url}/build-hosts/{host.pk}/")
    form = page.locator("#new-build-on-host form.build-form")
    form.locator("input[name=context]").set_input_files(str(context))
    form.locator("input[name=tag]").fill("dchweb-ui/slow:1 dchweb-ui/slow:latest")
    form.locator("input[name=push]").uncheck()
    form.locator("button[type=submit]").click()

    page.wait_for_url(f"{live_server.url}/builds/*/")
    build = Build.objects.get()
    assert page.url == f"{live_server.url}/builds/{build.pk}/"
    page.evaluate("window.dchwebMarker = 'no reload'")

    # The RUN step's first line shows while the build still runs.
    page.wait_for_function(until(f"{log_has('sleeping')} || {FINAL}"), timeout=90_000)
    build.refresh_from_db()
    assert not build.is_final, (
        f"no log line shown before the build was {build.state}: {build.error}"
    )
    assert page.evaluate(log_has("sleeping"))
    assert page.get_attribute("#build-status", "hx-trigger") == "every 1s"

    # Its end, without a reload: the state, then the rest of the log.
    wait_succeeded(page, build, timeout=90_000)
    page.wait_for_function(until(log_has("--- built sha256:")), timeout=15_000)
    assert page.evaluate("window.dchwebMarker") == "no reload"
    assert build.tags == ["dchweb-ui/slow:1", "dchweb-ui/slow:latest"]
    # Final: neither the state nor the log polls any more.
    assert page.get_attribute("#build-status", "hx-trigger") is None
    page.wait_for_function(
        until(
            "!document.querySelector('#build-log-poller').hasAttribute('hx-trigger')"
        ),
        timeout=10_000,
    )
    assert page.locator("#build-status button:has-text('Cancel')").count() == 0
    # Each line once: appending by offset repeats nothing.
    shown = page.evaluate("document.querySelector('#build-log').textContent")
    assert shown.count("--- built sha256:") == 1

    # The whole log downloads, and the page showed all of it.
    with page.expect_download() as download_info:
        page.click("text=Download the whole log")
    download = download_info.value
    assert download.suggested_filename == f"build-{build.short_id}.log"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    assert "--- built sha256:" in saved.read_text()
    assert saved.read_text() == shown


def test_a_build_from_home_pushes_and_deploys_by_digest(
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
    context = tmp_path / "hello.tar.gz"
    context.write_bytes(hello_context(busybox, text="hello from the page"))
    tag = f"{registry.address}/default-project/dchweb-ui-hello:1"
    sign_in(page, live_server, "alice", "alice-password-1")

    page.click("#new-build > details > summary")
    form = page.locator("#new-build form.build-form")
    form.locator("input[name=context]").set_input_files(str(context))
    form.locator("input[name=tag]").fill(tag)
    assert form.locator("input[name=push]").is_checked()
    form.locator("select[name=endpoint_id]").select_option(str(endpoint.pk))
    form.locator("button[type=submit]").click()

    page.wait_for_url(f"{live_server.url}/builds/*/")
    build = Build.objects.get()
    assert build.ephemeral
    wait_succeeded(page, build, timeout=180_000)
    pull = (
        f"docker pull {registry.address}/default-project/dchweb-ui-hello@{build.digest}"
    )
    assert pull in page.inner_text("#build-status pre.pull")

    # Home lists it, settled.
    page.goto(f"{live_server.url}/")
    assert page.get_attribute(
        f"#my-builds tr[data-build='{build.pk}']", "data-state"
    ) == ("succeeded")

    # Deploy it by digest; its output shows, then Remove.
    page.goto(f"{live_server.url}/builds/{build.pk}/")
    page.select_option("#build-deploy select[name=endpoint]", str(endpoint.pk))
    page.click("#build-deploy button:has-text('Deploy')")
    page.wait_for_selector("#build-deploy .deployment")
    deployment = Deployment.objects.get()
    assert deployment.image.endswith(f"@{build.digest}")
    card = f"#deployment-{deployment.pk}"
    page.wait_for_function(
        until(f"document.querySelector('{card}')?.dataset.state == 'exited'"),
        timeout=120_000,
    )
    page.wait_for_function(
        until(
            f"document.querySelector('{card} pre')?.textContent"
            ".includes('hello from the page')"
        ),
        timeout=15_000,
    )
    assert page.get_attribute(card, "hx-trigger") is None
    page.once("dialog", lambda dialog: dialog.accept())  # Remove asks first
    page.click(f"{card} button:has-text('Remove')")
    page.wait_for_function(
        until(f"document.querySelector('{card}')?.dataset.state == 'removed'"),
        timeout=60_000,
    )
    deployment.refresh_from_db()
    assert deployment.state == Deployment.State.REMOVED
