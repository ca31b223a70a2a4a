"""Messages in words, in Chromium: what a person reads on a page says what is
wrong with the form's labels and the product's words, never a Python
exception, an API field name, a dict or a state's code; the engine's own
message is there once, whole, folded under the summary."""

from datetime import timedelta

import docker.errors
import pytest
import requests
from django.utils import timezone

from hosts.engine.errors import classify
from hosts.models import (
    BuildHost,
    BuildHostStep,
    CleanupPlan,
    Registry,
    Volume,
)
from hosts.volumes import commands as volumes
from tests.support import world
from tests.support.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What an engine says when a container cannot start, as long as they come.
ENGINE_SAID = (
    "failed to create task for container: failed to create shim task: OCI "
    "runtime create failed: runc create failed: unable to start container "
    "process: error during container init: error mounting "
    '"/var/lib/docker/volumes/dchweb-0123456789ab-certs/_data" to rootfs at '
    '"/certs": mount src=/var/lib/docker/volumes/dchweb-0123456789ab-certs/_data, '
    "dst=/certs, dstFd=/proc/thread-self/fd/8, flags=0x5000: not a directory: "
    "unknown"
)


def engine_refusal(explanation):
    """docker-py's APIError for a 500 with the engine's words, as it raises it."""
    response = requests.Response()
    response.status_code = 500
    response.reason = "Internal Server Error"
    response.url = (
        "http+docker://localhost/v1.47/containers/create?"
        "name=dchweb-0123456789ab&platform=linux%2Famd64"
    )
    return docker.errors.APIError(
        "500 Server Error", response=response, explanation=explanation
    )


@pytest.fixture
def local():
    return world.unreachable_endpoint("local")


def test_an_upload_that_is_not_an_archive_is_refused_in_words(
    live_server, page, developer, local, data_dir
):
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/")
    form = page.locator("#new-build form")
    page.locator("#new-build > details > summary").click()

    form.locator("input[name=context]").set_input_files(
        files=[
            {
                "name": "context.tar.gz",
                "mimeType": "application/gzip",
                "buffer": b"this is a text file, not an archive\n" * 40,
            }
        ]
    )
    form.locator("input[name=tag]").fill("app:1")
    form.locator("input[name=push]").uncheck()
    form.locator("button[type=submit]").click()

    error = page.locator("#new-build .error-text[role=alert]")
    error.wait_for()
    shown = page.locator("#new-build").inner_text()
    assert "this file is not a tar or tar.gz archive" in error.inner_text().lower()
    for internal in ("ReadError", "method bz2", "gzip file", "plain or gzip"):
        assert internal not in shown


def test_a_time_to_live_out_of_range_is_refused_with_the_forms_label(
    live_server, page, developer, local
):
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/")
    page.click("text=New build host")
    page.fill("input[name=ttl_minutes]", "1")
    page.click("button:has-text('Create build host')")

    error = page.locator("#build-host-create .error-text[role=alert]").first
    error.wait_for()
    assert (
        "the time to live must be between 5 minutes and 7 days"
        in error.inner_text().lower()
    )
    assert "ttl_minutes" not in page.locator("#build-host-create").inner_text()
    assert "10080" not in page.locator("#build-host-create").inner_text()
    assert not BuildHost.objects.exists()


def test_the_engines_message_is_shown_once_whole_and_folded(
    live_server, page, developer, local
):
    failure = classify(engine_refusal(ENGINE_SAID))
    host = BuildHost.objects.create(
        name="broken",
        owner=developer,
        endpoint=local,
        image="registry.test:5443/default-project/dch-photon:20.10",
        state=BuildHost.State.FAILED,
        step="create_container",
        error=failure.message,
        error_reason=failure.reason,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    BuildHostStep.objects.create(
        build_host=host,
        name="create_container",
        status=BuildHostStep.Status.FAILED,
        finished_at=timezone.now(),
        error=failure.message,
        reason=failure.reason,
    )
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/{host.pk}/")

    status = page.locator("#build-host-status")
    # Once, and whole: to its last word, without docker-py's URL around it.
    assert status.text_content().count(ENGINE_SAID) == 1
    assert "http+docker" not in status.text_content()
    # Folded under the summary, which says what happened in words.
    message = status.locator("details.engine-message")
    assert message.count() == 1
    assert not message.locator("p").is_visible()
    assert "Failed at “Create the container”" in status.inner_text()
    message.locator("summary").click()
    assert message.locator("p").is_visible()
    assert ENGINE_SAID in message.locator("p").inner_text()


def test_a_plans_rule_and_a_volumes_state_are_shown_in_words(
    live_server, page, admin, local
):
    Volume.objects.create(
        endpoint=local,
        name="attached-data",
        status=Volume.Status.IN_USE,
        attached_to=["web-1"],
    )
    orphan = Volume.objects.create(
        endpoint=local, name="left-behind", status=Volume.Status.DANGLING
    )
    plan = volumes.make_plan(
        admin, {"volumes": [[local.pk, orphan.name]]}, source="cli"
    )
    assert CleanupPlan.objects.filter(pk=plan.pk).exists()
    sign_in(page, live_server, "root", "root-password-1")

    page.goto(f"{live_server.url}/volumes/plans/{plan.pk}/")
    summary = page.locator(".plan-summary").inner_text()
    assert "1 volume chosen one by one" in summary
    assert "{" not in summary and "'volumes'" not in summary

    page.goto(f"{live_server.url}/volumes/")
    badge = page.locator("tr[data-volume='attached-data'] .badge").first
    assert badge.inner_text() == "in use"
    assert "in_use" not in page.locator("#volume-ledger").inner_text()


def test_a_registry_check_says_its_reason_in_words(live_server, page, admin, local):
    registry = Registry.objects.create(
        name="harbor",
        address="harbor.example.com:5443",
        last_check_at=timezone.now(),
        last_check_ok=False,
        last_check_reason="unknown_authority",
        last_check_error="the registry's certificate is signed by an authority "
        "the registry's CA certificate does not cover: upload the CA that signed it",
    )
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/registries/")

    check = page.locator(f"#registry-{registry.pk} .registry-check")
    assert check.locator(".badge").inner_text() == "CA not trusted"
    assert "unknown_authority" not in check.inner_text()
