"""Placement across endpoints with the real engine and worker: a request that
names no endpoint lands on a healthy one (never on one probed off), on the
one running fewer hosts when two could take it, and is refused with each
endpoint's reason when none can. (The choice order with rows only, cache
over pool host over fewest running: tests/unit/buildhosts/test_placement.py.)
"""

import json

import pytest
from django.test import Client

from hosts.endpoints import probes
from hosts.models import BuildHost, Endpoint, RegistryTrust
from tests.support import world
from tests.support.hostcheck import wait_settled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Nothing listens there: every probe is refused at once.
NOBODY = "tcp://127.0.0.1:9"


def probed(endpoint, times=1):
    for _ in range(times):
        probes.probe_endpoint(endpoint.pk)
    endpoint.refresh_from_db()
    return endpoint


def ask(api, **body):
    return api.post(
        "/api/v1/build-hosts", data=json.dumps(body), content_type="application/json"
    )


def test_a_host_without_an_endpoint_goes_where_it_fits_or_is_refused_with_reasons(
    celery_worker, devstack, endpoint, registry, developer, leftovers
):
    dead = world.devstack_endpoint(devstack, name="dead", docker_url=NOBODY)
    assert probed(dead, probes.FAILURES_BEFORE_OFF).health == Endpoint.Health.OFF
    assert probed(endpoint).health == Endpoint.Health.ON
    api = world.api_client(developer)

    # Off is never chosen, though it runs fewer hosts (none) and sorts first.
    first = ask(api, registry_ids=[registry.pk], name="placed-1")
    assert first.status_code == 202, first.content
    assert first.json()["endpoint_id"] == endpoint.pk
    reason = "any endpoint: devstack, fewest build hosts running (0 of 10)"
    assert first.json()["placement"] == reason

    # A second healthy row (on the same engine) runs fewer hosts: it wins.
    twin = probed(world.devstack_endpoint(devstack, name="twin"))
    second = ask(api, registry_ids=[registry.pk], name="placed-2")
    assert second.status_code == 202, second.content
    assert second.json()["endpoint_id"] == twin.pk
    assert second.json()["placement"] == (
        "any endpoint: twin, fewest build hosts running (0 of 10)"
    )

    hosts = [
        BuildHost.objects.get(pk=answer.json()["id"]) for answer in (first, second)
    ]
    for host in hosts:
        assert wait_settled(host).state == BuildHost.State.READY, host.error
    page = Client()
    page.force_login(developer)
    detail = page.get(f"/build-hosts/{hosts[0].pk}/").content.decode()
    assert f"<tr><th>Placed</th><td>{reason}</td></tr>" in detail
    assert api.get(f"/api/v1/build-hosts/{hosts[0].pk}").json()["placement"] == reason

    # Off, full, distrusting: a 409 that says why, endpoint by endpoint.
    Endpoint.objects.filter(pk=endpoint.pk).update(max_build_hosts=1)
    RegistryTrust.objects.create(
        endpoint=twin, registry=registry, ok=False, reason="unauthorized"
    )
    refused = ask(api, registry_ids=[registry.pk])
    assert refused.status_code == 409, refused.content
    body = refused.json()
    assert body["error"] == "nothing_fits"
    reasons = body["reasons"]
    assert sorted(reasons) == ["dead", "devstack", "twin"]
    assert reasons["dead"].startswith("its engine is off (last probe: ")
    assert reasons["devstack"] == "it runs 1 of 1 build hosts, its cap"
    assert reasons["twin"] == (
        f"it cannot log in to {registry.address} (the last trust check)"
    )
    assert body["detail"].startswith("no endpoint can take this build host — dead: ")

    # The page's form says the same, on the form, in words.
    form = page.post(
        "/build-hosts/",
        {
            "endpoint": "",
            "registries": [registry.pk],
            "disk_gb": "20",
            "ttl_minutes": "60",
            "volume_policy": "delete",
        },
    )
    assert form.status_code == 409
    shown = form.content.decode()
    assert "no endpoint can take this build host" in shown
    assert "devstack: it runs 1 of 1 build hosts, its cap" in shown
    assert BuildHost.objects.count() == 2
