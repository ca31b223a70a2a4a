"""Endpoint probes against real engines: health moves on → degraded → off."""

import time

import pytest

from hosts.endpoints import probes
from hosts.endpoints.tasks import probe_endpoint
from hosts.models import AuditEvent, Endpoint
from tests.support.buildhost import free_loopback_port

pytestmark = pytest.mark.integration


@pytest.fixture
def local_endpoint(devstack):
    return Endpoint.objects.create(
        name="local",
        docker_url=devstack["docker_url"],
        tls_mode=Endpoint.TlsMode.NONE,
        publish_host="127.0.0.1",
    )


@pytest.fixture
def dead_endpoint():
    return Endpoint.objects.create(
        name="dead",
        docker_url=f"tcp://127.0.0.1:{free_loopback_port()}",
        tls_mode=Endpoint.TlsMode.NONE,
        publish_host="127.0.0.1",
        health=Endpoint.Health.ON,
    )


@pytest.mark.django_db
def test_the_devstack_engine_probes_on_and_its_facts_are_kept(local_endpoint):
    endpoint = probes.probe_endpoint(local_endpoint.pk)

    assert endpoint.health == Endpoint.Health.ON
    assert endpoint.flavor == Endpoint.Flavor.DOCKER
    assert endpoint.api_version == "1.41"
    assert endpoint.server_version.startswith("20.10")
    assert endpoint.os_arch == "linux/x86_64"
    assert endpoint.last_probe_at is not None
    event = AuditEvent.objects.get(action="endpoint.health_changed")
    assert event.details == {"from": "off", "to": "on"}


@pytest.mark.django_db
def test_three_failures_in_a_row_turn_an_endpoint_off(dead_endpoint):
    healths = [probes.probe_endpoint(dead_endpoint.pk).health for _ in range(3)]

    dead_endpoint.refresh_from_db()
    assert healths == ["degraded", "degraded", "off"]
    assert dead_endpoint.last_error_reason == "connection_refused"
    assert "connection refused" in dead_endpoint.last_error


@pytest.mark.django_db
def test_a_success_clears_the_failure_count(dead_endpoint, devstack):
    probes.probe_endpoint(dead_endpoint.pk)
    probes.probe_endpoint(dead_endpoint.pk)
    Endpoint.objects.filter(pk=dead_endpoint.pk).update(
        docker_url=devstack["docker_url"]
    )

    endpoint = probes.probe_endpoint(dead_endpoint.pk)

    assert endpoint.health == Endpoint.Health.ON
    assert endpoint.consecutive_failures == 0
    assert endpoint.last_error == ""


@pytest.mark.django_db
def test_a_disabled_endpoint_stays_disabled(local_endpoint):
    Endpoint.objects.filter(pk=local_endpoint.pk).update(
        health=Endpoint.Health.DISABLED
    )

    endpoint = probes.probe_endpoint(local_endpoint.pk)

    assert endpoint.health == Endpoint.Health.DISABLED
    assert endpoint.last_probe_at is None


@pytest.mark.django_db(transaction=True)
def test_the_worker_probes_an_endpoint(celery_worker, local_endpoint):
    probe_endpoint.delay(local_endpoint.pk)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        local_endpoint.refresh_from_db()
        if local_endpoint.health == Endpoint.Health.ON:
            break
        time.sleep(0.2)
    assert local_endpoint.health == Endpoint.Health.ON
    assert local_endpoint.api_version == "1.41"
