"""Where events are said: once per transition, against the real engine and
registry, never on every probe or check."""

import pytest

from hosts.certificates import commands as certificates
from hosts.certificates import expiry
from hosts.endpoints import probes
from hosts.models import Endpoint, Notification, RegistryTrust
from hosts.registries import trust
from tests.support import pki, world
from tests.support.buildhost import free_loopback_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def _said(event):
    return list(Notification.objects.filter(event=event).order_by("at", "id"))


def test_an_endpoint_is_said_off_once_and_on_once_when_it_comes_back(devstack):
    endpoint = Endpoint.objects.create(
        name="flaky",
        docker_url=f"tcp://127.0.0.1:{free_loopback_port()}",
        tls_mode=Endpoint.TlsMode.NONE,
        publish_host="127.0.0.1",
    )
    for _ in range(5):  # degraded, degraded, off, off, off
        probes.probe_endpoint(endpoint.pk)
    Endpoint.objects.filter(pk=endpoint.pk).update(docker_url=devstack["docker_url"])
    probes.probe_endpoint(endpoint.pk)
    probes.probe_endpoint(endpoint.pk)

    [off] = _said("endpoint.off")
    [on] = _said("endpoint.on")
    assert off.owner is None and on.owner is None  # the admins'
    assert off.object["name"] == "flaky"
    assert "stopped answering: " in off.object["summary"]
    assert on.object["summary"] == "Endpoint flaky answers again."


def test_a_new_endpoint_answering_is_no_news(devstack):
    endpoint = world.devstack_endpoint(devstack, health=Endpoint.Health.OFF)
    probes.probe_endpoint(endpoint.pk)

    assert Notification.objects.count() == 0


def test_a_registry_trust_lost_is_said_once(devstack):
    endpoint = world.devstack_endpoint(devstack)
    registry = world.devstack_registry(devstack)
    trust.check_trust_all()
    assert RegistryTrust.objects.get(endpoint=endpoint, registry=registry).ok

    registry.set_password("not-the-password")
    registry.save()
    trust.check_trust_all()
    trust.check_trust_all()

    [lost] = _said("registry.trust_lost")
    assert lost.owner is None
    assert lost.object["endpoint"] == endpoint.name
    assert lost.object["registry"] == registry.name
    assert "not-the-password" not in str(lost.object)
    assert lost.object["summary"].startswith(
        f"Endpoint {endpoint.name} can no longer reach registry {registry.name}"
    )


def test_a_certificate_near_its_end_is_announced_once(admin, settings):
    # pki's certificates live one day: inside a 2-day notice, outside none.
    certificate = certificates.create_certificate(
        admin, "corporate root", pki.make_ca("Corp CA").cert_pem.decode(), source="cli"
    )
    settings.DCHWEB_CERT_EXPIRY_NOTICE_DAYS = 0
    assert expiry.announce_expiring() == []

    settings.DCHWEB_CERT_EXPIRY_NOTICE_DAYS = 2
    assert expiry.announce_expiring() == [certificate.pk]
    assert expiry.announce_expiring() == []

    [said] = _said("certificate.expiring")
    assert said.owner is None
    assert said.object["name"] == "corporate root"
    assert said.object["summary"].startswith(
        "Certificate corporate root expires in less than a day"
    )
