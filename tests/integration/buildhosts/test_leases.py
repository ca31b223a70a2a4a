"""Heartbeat leases on the devstack engine: a host whose holder heartbeats
stays through the periodic pass; once the heartbeats stop, the pass marks it
for removal ("its lease lapsed") and the worker removes it by its volume
policy. The pass is called with the moment it runs at, so nobody waits out
a lease."""

import json
from datetime import timedelta

import pytest
from django.test import Client

from hosts.buildhosts import lifetime
from hosts.models import AuditEvent, BuildHost
from hosts.ops import tasks as ops_tasks
from tests.support.hostcheck import engine_objects, wait_settled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LEASE = 30
SECOND = timedelta(seconds=1)


def api(token):
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def call(method, path, body=None):
        if body is None:
            return getattr(client, method)(f"/api/v1{path}")
        return getattr(client, method)(
            f"/api/v1{path}", data=json.dumps(body), content_type="application/json"
        )

    return call


@pytest.mark.parametrize(("policy", "volumes_left"), [("delete", 0), ("keep", 2)])
def test_a_host_stays_while_its_holder_heartbeats_and_goes_by_its_policy_after(
    celery_worker,
    engine,
    endpoint,
    registry,
    developer_token,
    policy,
    volumes_left,
    leftovers,
):
    owner = api(developer_token)
    created = owner(
        "post",
        "/build-hosts",
        {
            "endpoint_id": endpoint.pk,
            "registry_ids": [registry.pk],
            "volume_policy": policy,
            "lease_seconds": LEASE,
        },
    )
    assert created.status_code == 202, created.content
    assert created.json()["lease_seconds"] == LEASE
    host = wait_settled(BuildHost.objects.get(pk=created.json()["id"]))
    assert host.state == BuildHost.State.READY, host.error
    first_lease = host.lease_expires_at
    assert first_lease == host.created_at + timedelta(seconds=LEASE)

    # The holder heartbeats: each renewal runs a full lease from its call,
    # and a pass just before it lapses leaves the host alone.
    for _ in range(2):
        beat = owner("post", f"/build-hosts/{host.pk}/heartbeat")
        assert beat.status_code == 200, beat.content
        host.refresh_from_db()
        assert beat.json()["lease_expires_at"].startswith(
            host.lease_expires_at.strftime("%Y-%m-%dT%H:%M:%S")
        )
        assert ops_tasks.reap_lapsed_leases(now=host.lease_expires_at - SECOND) == 0
        host.refresh_from_db()
        assert host.state == BuildHost.State.READY
    assert host.lease_expires_at > first_lease
    shown = owner("get", f"/build-hosts/{host.pk}").json()
    assert shown["lease_expires_at"] is not None

    # The holder stops: the first pass past the lease removes the host.
    lapsed_at = host.lease_expires_at + SECOND
    assert ops_tasks.reap_lapsed_leases(now=lapsed_at) == 1
    assert ops_tasks.reap_lapsed_leases(now=lapsed_at) == 0  # once
    host = wait_settled(host)

    assert host.state == BuildHost.State.REMOVED
    assert host.remove_volumes is (policy == "delete")
    containers, volumes = engine_objects(engine, host)
    assert containers == []
    assert len(volumes) == volumes_left
    step = host.steps.get(name="lease_lapsed")
    assert step.status == "done" and step.detail.startswith(lifetime.LEASE_LAPSED)
    audit = AuditEvent.objects.get(
        action="build_host.lease_lapsed", object_id=str(host.pk)
    )
    assert audit.details["reason"] == "its lease lapsed"
    assert audit.details["volumes"] == ("delete" if policy == "delete" else "keep")
    # A removed host's lease cannot be renewed: the holder is told why.
    late = owner("post", f"/build-hosts/{host.pk}/heartbeat")
    assert late.status_code == 409
    assert late.json()["error"] == "lease_ended"
    assert "removed" in late.json()["detail"]
