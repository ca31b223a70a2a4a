"""Pieces of a build host's page that used to outlive what they said, in
Chromium: a "requested" or "removing" message once the host is ready or
removed, and the build form on a host that is gone. The worker is left out
(its tasks recorded, not run); the tests move the host's state as the worker
or the reconciler would, and the page follows without a reload."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.buildhosts import tasks
from hosts.models import BuildHost
from tests.support import world
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def enqueued(monkeypatch):
    """The build-host tasks the pages ask for, recorded instead of sent."""
    sent = []
    for task in (tasks.provision_build_host, tasks.remove_build_host):
        monkeypatch.setattr(
            task, "delay", lambda *args, name=task.name: sent.append((name, args))
        )
    return sent


@pytest.fixture
def endpoint():
    return world.unreachable_endpoint("local", default_image="dch-photon:test")


def ready_host(owner, endpoint, name="bh-live"):
    return BuildHost.objects.create(
        owner=owner,
        endpoint=endpoint,
        name=name,
        image="dch-photon:test",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timedelta(hours=8),
    )


def move(host, state, **values):
    """What the worker (or the reconciler) would do to the row."""
    BuildHost.objects.filter(pk=host.pk).update(state=state, **values)


def state_is(state):
    return until(
        f"document.querySelector('#build-host-status')?.dataset.state == '{state}'"
    )


def messages_text(page) -> str:
    return page.locator("#messages").inner_text()


def test_no_requested_message_stays_once_the_host_is_ready(
    live_server, page, developer, endpoint, enqueued
):
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/")
    page.click("text=New build host")
    page.fill("#build-host-create input[name=name]", "bh-fresh")
    page.click("button:has-text('Create build host')")
    page.wait_for_url("**/build-hosts/*-*/")
    host = BuildHost.objects.get(name="bh-fresh")
    assert [name for name, _ in enqueued] == ["hosts.tasks.provision_build_host"]
    page.wait_for_function(state_is("requested"))

    move(host, BuildHost.State.READY)
    page.wait_for_function(state_is("ready"))

    assert "requested" not in messages_text(page).lower()
    assert "Ready" in page.locator("#build-host-status .host-state").inner_text()


def test_no_removing_message_stays_once_the_host_is_removed(
    live_server, page, developer, endpoint, enqueued
):
    host = ready_host(developer, endpoint)
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/{host.pk}/")
    page.on("dialog", lambda dialog: dialog.accept())

    page.click("#build-host-remove button:has-text('Remove')")
    page.wait_for_function(state_is("removing"))
    status = page.locator("#build-host-status .host-state")
    assert "deleting its volumes" in status.inner_text()
    move(host, BuildHost.State.REMOVED, removed_at=timezone.now())
    page.wait_for_function(state_is("removed"))

    assert "removing" not in messages_text(page).lower()
    assert "its volumes deleted" in status.inner_text()


def test_the_build_form_goes_when_its_host_is_removed(
    live_server, page, developer, endpoint, enqueued
):
    host = ready_host(developer, endpoint)
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/{host.pk}/")
    form = "#new-build-on-host form.build-form"
    page.wait_for_selector(form)
    page.fill(f"{form} input[name=tag]", "registry.test:5443/default-project/kept:1")
    page.evaluate("document.querySelector('#new-build-on-host').dataset.first = 'yes'")

    # The form's place polls while the host runs; a poll keeps what was typed.
    page.wait_for_function(
        until("!document.querySelector('#new-build-on-host').dataset.first")
    )
    assert (
        page.input_value(f"{form} input[name=tag]")
        == "registry.test:5443/default-project/kept:1"
    )

    # Removed elsewhere (another tab, the API, its expiry): the form goes.
    move(host, BuildHost.State.REMOVED, removed_at=timezone.now())
    page.wait_for_selector(form, state="detached")

    place = page.locator("#new-build-on-host").inner_text()
    assert "this build host is removed" in place
    # The status, which stopped polling once the host was ready, says so too.
    page.wait_for_function(state_is("removed"))
    assert "Removed" in page.locator("#build-host-status .host-state").inner_text()
