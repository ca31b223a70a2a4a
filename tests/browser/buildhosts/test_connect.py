"""A ready build host's "Connect" section in Chromium: the unzip step, the
three ways to point the docker CLI at it (environment variables, `docker
context create`, flags) with this host's address, a Copy button on each, and
"Download as docker context" handing out the file docker imports. At 390 px
the commands scroll inside their blocks, not the page.

No engine here: the host is a row (the integration tests run these commands
against a real one, tests/integration/buildhosts/test_docker_context.py)."""

import json
import tarfile
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone

from hosts.buildhosts import connect
from hosts.models import BuildHost
from tests.support import world
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PORT = 32771
ADDRESS = f"tcp://127.0.0.1:{PORT}"


@pytest.fixture
def ready_row(developer):
    host = BuildHost.objects.create(
        owner=developer,
        endpoint=world.unreachable_endpoint(),
        name="bh-connect",
        image="x",
        state=BuildHost.State.READY,
        port=PORT,
        ca_pem="CA PEM\n",
        owner_cert_pem="CERT PEM\n",
        expires_at=timezone.now() + timedelta(hours=8),
    )
    host.set_secret("owner_key", "KEY PEM\n")
    host.save()
    return host


def command(page, name):
    return page.locator(f"#connect-{name}").inner_text()


def test_the_page_shows_every_way_to_connect_and_the_context_download(
    page, live_server, developer, ready_row
):
    folder = f"~/dchweb/{ready_row.short_id}"
    quoted = f"$HOME/dchweb/{ready_row.short_id}"
    name = connect.context_name(ready_row)
    sign_in(page, live_server, "alice", "alice-password-1")

    page.goto(f"{live_server.url}/build-hosts/{ready_row.pk}/")

    unzip = command(page, "unzip")
    assert f"mkdir -p {folder}" in unzip
    assert f"unzip -o {ready_row.tls_bundle_filename} -d {folder}" in unzip
    assert command(page, "environment").splitlines() == [
        f"export DOCKER_HOST={ADDRESS}",
        "export DOCKER_TLS_VERIFY=1",
        f"export DOCKER_CERT_PATH={folder}",
        "docker info",
    ]
    assert command(page, "context").splitlines() == [
        f'docker context create {name} --docker "host={ADDRESS},'
        f'ca={quoted}/ca.pem,cert={quoted}/cert.pem,key={quoted}/key.pem"',
        f"docker --context {name} info",
    ]
    assert command(page, "flags").splitlines() == [
        f"cd {folder}",
        "docker --tlsverify --tlscacert ca.pem --tlscert cert.pem --tlskey key.pem"
        f" -H {ADDRESS} info",
    ]
    assert f"docker context import {name} {name}.dockercontext" in command(
        page, "import"
    )
    assert page.get_by_role("link", name="Download TLS bundle").is_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download as docker context").click()

    assert download.value.suggested_filename == f"{name}.dockercontext"
    with tarfile.open(download.value.path()) as archive:
        meta = json.load(archive.extractfile("meta.json"))
        key = archive.extractfile("tls/docker/key.pem").read()
    assert meta["Endpoints"]["docker"]["Host"] == ADDRESS
    assert key == b"KEY PEM\n"


def test_copy_puts_the_command_on_the_clipboard(
    page, live_server, developer, ready_row
):
    page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=live_server.url
    )
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/{ready_row.pk}/")

    page.get_by_role("button", name="Copy the docker context commands").click()
    page.wait_for_function(
        until(
            "document.querySelector('[data-copy=connect-context]')"
            ".textContent == 'Copied'"
        )
    )

    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == command(page, "context")


def test_at_390_px_the_commands_scroll_inside_their_blocks(
    page, live_server, developer, ready_row
):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "alice", "alice-password-1")

    page.goto(f"{live_server.url}/build-hosts/{ready_row.pk}/")

    widths = page.evaluate(
        """() => {
          const section = document.querySelector('#build-host-connect');
          const blocks = [...section.querySelectorAll('pre')];
          return {
            viewport: window.innerWidth,
            section: section.getBoundingClientRect().right,
            blocks: Math.max(...blocks.map((b) => b.getBoundingClientRect().right)),
            buttons: Math.max(...[...section.querySelectorAll('button.copy')]
              .map((b) => b.getBoundingClientRect().right)),
            longest: Math.max(...blocks.map((b) => b.scrollWidth - b.clientWidth)),
          };
        }"""
    )
    assert widths["section"] <= widths["viewport"], widths
    assert widths["blocks"] <= widths["viewport"], widths
    assert widths["buttons"] <= widths["viewport"], widths
    # The `docker context create` line is longer than the screen: it scrolls
    # inside its block.
    assert widths["longest"] > 0, widths
    # A block that scrolls is one the keyboard can reach and scroll too.
    found = Axe().run(page, context="#build-host-connect").response["violations"]
    assert [violation["id"] for violation in found] == []
