"""The certificates page in Chromium agrees with what exists: build hosts
issued certificates from their own CAs are listed with those CAs (never "Not
created yet" beside a "Rotate CA" for a CA nobody made), and a developer sees,
read-only, the CAs their own build hosts trust: each host's own and its
registries'."""

from datetime import timedelta

import pytest
from cryptography import x509 as crypto_x509
from django.utils import timezone

from hosts.lib import x509
from hosts.models import BuildHost, Registry
from tests.support import pki, world
from tests.support.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fingerprint_of(pem):
    return x509.fingerprint(crypto_x509.load_pem_x509_certificate(pem.encode()))


def registry_with_ca(name, address):
    return Registry.objects.create(
        name=name, address=address, ca_pem=pki.make_ca(f"{name} CA").cert_pem.decode()
    )


def host_with_certificates(owner, endpoint, name, registries=()):
    """A ready host as provisioning leaves it: its own CA in `ca_pem`."""
    host = BuildHost.objects.create(
        name=name,
        owner=owner,
        endpoint=endpoint,
        image="registry.test:5443/default-project/dch-photon:20.10",
        state=BuildHost.State.READY,
        ca_pem=x509.new_build_host_ca(f"dchweb build host {name}").cert_pem,
        expires_at=timezone.now() + timedelta(hours=8),
    )
    host.registries.set(registries)
    return host


@pytest.fixture
def local():
    return world.unreachable_endpoint("local")


def test_hosts_issued_certificates_are_listed_with_their_cas(
    live_server, page, admin, developer, local
):
    hosts = [
        host_with_certificates(developer, local, f"host-{number}")
        for number in range(4)
    ]
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/certificates/")

    shown = page.locator("main").inner_text()
    assert "Not created yet" not in shown
    # No installation CA exists: nothing to rotate is offered.
    assert page.get_by_role("button", name="Rotate CA").count() == 0
    host_cas = page.locator("#trusted-cas table.host-cas").inner_text()
    for host in hosts:
        assert fingerprint_of(host.ca_pem) in host_cas


def test_a_developer_sees_the_cas_their_hosts_trust_read_only(
    live_server, page, developer, other_developer, local
):
    theirs = registry_with_ca("harbor", "harbor.test:5443")
    strangers = registry_with_ca("elsewhere", "elsewhere.test:5443")
    mine = host_with_certificates(developer, local, "mine", [theirs])
    host_with_certificates(other_developer, local, "bobs", [strangers])
    sign_in(page, live_server, "alice", "alice-password-1")

    page.goto(f"{live_server.url}/certificates/")

    trusted = page.locator("#trusted-cas")
    registry_row = trusted.locator("tr[data-registry='harbor.test:5443']")
    assert fingerprint_of(theirs.ca_pem) in registry_row.inner_text()
    assert "mine" in registry_row.inner_text()
    assert fingerprint_of(mine.ca_pem) in trusted.inner_text()
    # Only their own hosts' CAs: not bob's registry, not bob's host.
    assert "elsewhere" not in trusted.inner_text()
    assert "bobs" not in trusted.inner_text()
    # Read-only: no upload form, no button of an admin's.
    main = page.locator("main")
    assert main.locator("form").count() == 0
    assert main.get_by_role("button").count() == 0
    # On a phone, the long fingerprints and subjects stay on the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(
        "() => document.documentElement.scrollWidth"
        " <= document.documentElement.clientWidth"
    )
