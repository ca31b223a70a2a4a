"""Deleting an endpoint, a registry or a certificate (the use cases behind
the pages' Delete): done and audited when nothing uses it; refused with
what still does, nothing deleted or audited, while something does."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.certificates import commands as certificates
from hosts.endpoints import commands as endpoints
from hosts.models import (
    AuditEvent,
    Build,
    BuildHost,
    Certificate,
    Endpoint,
    Registry,
    RegistryTrust,
)
from hosts.registries import commands as registries
from tests.support import pki, world

pytestmark = pytest.mark.django_db


def host_on(endpoint, owner, state=BuildHost.State.READY):
    return BuildHost.objects.create(
        owner=owner,
        endpoint=endpoint,
        name="bh",
        image="x",
        state=state,
        expires_at=timezone.now() + timedelta(hours=1),
    )


def registry_named(name, ca_pem=""):
    return Registry.objects.create(
        name=name, address=f"{name}.test:5443", ca_pem=ca_pem
    )


def test_an_unused_endpoint_is_deleted_with_its_trust_rows(admin):
    endpoint = world.unreachable_endpoint("spare")
    RegistryTrust.objects.create(endpoint=endpoint, registry=registry_named("r"))

    endpoints.delete_endpoint(admin, endpoint, source="cli")

    assert not Endpoint.objects.exists() and not RegistryTrust.objects.exists()
    event = AuditEvent.objects.get(action="endpoint.delete")
    assert event.details["name"] == "spare"


@pytest.mark.parametrize(
    ("state", "words"),
    [
        (BuildHost.State.READY, "1 build host (1 active)"),
        (BuildHost.State.REMOVED, "1 build host, removed"),
    ],
)
def test_an_endpoint_with_build_hosts_is_not_deleted(admin, developer, state, words):
    endpoint = world.unreachable_endpoint("local")
    host_on(endpoint, developer, state)

    with pytest.raises(endpoints.EndpointInUse, match="still in use") as refused:
        endpoints.delete_endpoint(admin, endpoint, source="cli")

    assert words in refused.value.message and refused.value.status == 409
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()
    assert not AuditEvent.objects.filter(action="endpoint.delete").exists()


def test_a_registry_trusted_by_a_removed_host_only_is_deleted(admin, developer):
    registry = registry_named("private")
    host_on(world.unreachable_endpoint("local"), developer, BuildHost.State.REMOVED)
    BuildHost.objects.get().registries.add(registry)

    registries.delete_registry(admin, registry, source="cli")

    assert not Registry.objects.exists()
    assert AuditEvent.objects.filter(action="registry.deleted").count() == 1


def test_a_registry_a_running_host_trusts_or_a_build_pushed_to_is_not_deleted(
    admin, developer
):
    trusted = registry_named("trusted")
    host_on(world.unreachable_endpoint("local"), developer).registries.add(trusted)
    pushed_to = registry_named("pushed-to")
    Build.objects.create(owner=developer, registry=pushed_to, tags=["a/b:1"])

    with pytest.raises(registries.RegistryInUse, match="1 build host trusts it"):
        registries.delete_registry(admin, trusted, source="cli")
    with pytest.raises(registries.RegistryInUse, match="1 build pushed to it"):
        registries.delete_registry(admin, pushed_to, source="cli")

    assert Registry.objects.count() == 2
    assert not AuditEvent.objects.filter(action="registry.deleted").exists()


def test_a_certificate_a_registry_trusts_is_not_deleted(admin):
    ca = pki.make_ca("Registry CA")
    stored = certificates.create_certificate(
        admin, "registry ca", ca.cert_pem.decode(), source="cli"
    )
    registry_named("private", ca_pem=ca.cert_pem.decode())

    assert certificates.uses_of(stored) == ["registry private (it trusts it as its CA)"]
    with pytest.raises(certificates.CertificateInUse, match="registry private"):
        certificates.delete_certificate(admin, stored, source="cli")

    assert Certificate.objects.filter(pk=stored.pk).exists()
    assert not AuditEvent.objects.filter(action="certificate.delete").exists()


def test_a_certificate_of_another_ca_does_not_block(admin):
    stored = certificates.create_certificate(
        admin, "spare", pki.make_ca("Spare CA").cert_pem.decode(), source="cli"
    )
    registry_named("private", ca_pem=pki.make_ca("Registry CA").cert_pem.decode())

    assert certificates.uses_of(stored) == []
    certificates.delete_certificate(admin, stored, source="cli")

    assert not Certificate.objects.exists()
