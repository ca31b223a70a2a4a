"""Owners clean up after themselves (issue 14), against the devstack engine
and a real worker: a developer plans and executes the removal of their own
volumes left behind, and nobody else's; an admin's plan sent as a notice is
answered volume by volume by its owners, then carried out when the notice
ends: released and unanswered volumes removed, kept ones left, all of it in
the audit trail.

The volumes are made directly with dchweb's labels (what a removed build
host leaves behind), so no build host has to be provisioned for them."""

import contextlib
import time
import uuid

import docker.errors
import pytest

from hosts.core import installation
from hosts.models import AuditEvent, CleanupItem, CleanupPlan, Notification
from hosts.ops import tasks as ops_tasks
from hosts.volumes import ledger
from tests.support import world

pytestmark = [
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

PLAN_TIMEOUT = 60


@pytest.fixture
def left_behind(engine, endpoint):
    """left_behind(owner): a new volume of `owner`'s that a removed build host
    left behind, on the engine (and in the ledger after a refresh)."""
    made = []

    def make(owner):
        volume = engine.volumes.create(
            f"left-{owner}-{uuid.uuid4().hex[:8]}",
            labels={
                "io.dchweb.managed": "true",
                "io.dchweb.installation": installation.installation_id(),
                "io.dchweb.owner": owner,
                "io.dchweb.role": "docker-data",
            },
        )
        made.append(volume.name)
        return volume.name

    yield make
    for name in made:
        with contextlib.suppress(docker.errors.NotFound):
            engine.volumes.get(name).remove(force=True)


@pytest.fixture
def user_of(engine, build_host_image, devstack):
    """user_of(volume): a container that uses `volume` from now on."""
    containers = []

    def attach(volume):
        container = engine.containers.run(
            build_host_image,
            entrypoint=["sleep", "600"],
            detach=True,
            network=devstack["network"],
            volumes={volume: {"bind": "/data", "mode": "rw"}},
        )
        containers.append(container)

    yield attach
    for container in containers:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)


def on_engine(engine):
    return {volume.name for volume in engine.volumes.list()}


def finished(plan_id):
    deadline = time.monotonic() + PLAN_TIMEOUT
    while time.monotonic() < deadline:
        plan = CleanupPlan.objects.get(pk=plan_id)
        if plan.state == CleanupPlan.State.DONE:
            return plan
        time.sleep(0.2)
    pytest.fail(f"clean-up plan {plan_id} stayed {plan.state}")


def results_of(plan):
    return dict(plan.items.values_list("volume_name", "result"))


def post(client, path, body=None):
    return client.post(path, data=body or {}, content_type="application/json")


def test_a_developer_removes_their_own_volumes_only_and_never_one_in_use(
    celery_worker, endpoint, engine, left_behind, user_of, developer, other_developer
):
    mine, mine_busy = left_behind("alice"), left_behind("alice")
    theirs = left_behind("bob")
    ledger.refresh(endpoint)
    alice, bob = world.api_client(developer), world.api_client(other_developer)

    listed = alice.get("/api/v1/volumes?limit=1000").json()
    assert {mine, mine_busy} <= {row["name"] for row in listed["items"]}
    assert {row["owner"] for row in listed["items"]} == {"alice"}
    # Naming bob's volume: not one of hers, whatever its name.
    refused = post(alice, "/api/v1/cleanup-plans", {"volume_names": [theirs]})
    assert refused.status_code == 404, refused.content
    # A rule, even one that asks for bob's volumes, plans hers only.
    assert post(alice, "/api/v1/cleanup-plans", {"owner": "bob"}).json()["items"] == []
    planned = post(alice, "/api/v1/cleanup-plans", {"endpoint_id": endpoint.pk})
    assert planned.status_code == 201, planned.content
    plan_id = planned.json()["id"]
    assert {item["volume_name"] for item in planned.json()["items"]} == {
        mine,
        mine_busy,
    }
    # Bob may neither read nor run her plan.
    assert bob.get(f"/api/v1/cleanup-plans/{plan_id}").status_code == 404
    assert post(bob, f"/api/v1/cleanup-plans/{plan_id}/execute").status_code == 404
    # Between plan and execution, one of hers is taken into use again.
    user_of(mine_busy)

    executed = post(alice, f"/api/v1/cleanup-plans/{plan_id}/execute")

    assert executed.status_code == 202, executed.content
    plan = finished(plan_id)
    assert results_of(plan) == {mine: "removed", mine_busy: "skipped_in_use"}
    names = on_engine(engine)
    assert mine not in names and {mine_busy, theirs} <= names
    assert plan.approved_by == developer


def test_a_notice_is_answered_by_the_owners_then_carried_out(
    celery_worker, endpoint, engine, left_behind, developer, other_developer, admin
):
    kept, released, unanswered = (left_behind("alice") for _ in range(3))
    bobs = left_behind("bob")
    ledger.refresh(endpoint)
    alice, bob = world.api_client(developer), world.api_client(other_developer)
    as_admin = world.api_client(admin)
    rule = {"endpoint_id": endpoint.pk, "notice_days": 2, "keep_days_allowed": 10}

    assert post(alice, "/api/v1/cleanup-plans", rule).status_code == 403
    sent = post(as_admin, "/api/v1/cleanup-plans", rule)

    assert sent.status_code == 201, sent.content
    plan = sent.json()
    assert plan["state"] == "notice" and plan["notice_ends_at"]
    items = {item["volume_name"]: item for item in plan["items"]}
    assert {kept, released, unanswered, bobs} <= set(items)
    assert items[bobs]["owner"] == "bob"
    # Each owner is told once, with their own volumes.
    told = Notification.objects.filter(event="cleanup.notice")
    assert sorted(told.values_list("owner__username", flat=True)) == ["alice", "bob"]
    to_alice = told.get(owner=developer).object
    assert {kept, released, unanswered} == {
        item["volume_name"] for item in to_alice["items"]
    }
    url = f"/api/v1/cleanup-plans/{plan['id']}/items"

    def keep(client, name, **body):
        return post(client, f"{url}/{items[name]['id']}/keep", body)

    # Only the volume's owner answers; a keep needs a reason and days allowed.
    assert keep(bob, kept, reason="mine now", days=1).status_code == 404
    no_reason = keep(alice, kept, reason=" ", days=3)
    assert no_reason.status_code == 400 and "why" in no_reason.json()["detail"]
    too_long = keep(alice, kept, reason="nightly cache", days=11)
    assert too_long.status_code == 400 and "1 to 10" in too_long.json()["detail"]
    answered = keep(alice, kept, reason="nightly cache", days=3)
    assert answered.status_code == 200, answered.content
    assert answered.json()["answer"] == "keep" and answered.json()["keep_until"]
    released_id = items[released]["id"]
    assert post(alice, f"{url}/{released_id}/release").json()["answer"] == "release"

    # The notice ends (the periodic pass, as at its end): the worker runs it.
    ended = CleanupPlan.objects.get(pk=plan["id"]).notice_ends_at
    ops_tasks.end_cleanup_notices(now=ended)

    done = finished(plan["id"])
    results = results_of(done)
    assert results[kept] == "kept"
    assert results[released] == results[unanswered] == results[bobs] == "removed"
    names = on_engine(engine)
    assert kept in names and not {released, unanswered, bobs} & names
    late = post(alice, f"{url}/{items[unanswered]['id']}/release")
    assert late.status_code == 409
    assert "no longer taken" in late.json()["detail"]
    trail = list(
        AuditEvent.objects.filter(
            object_type="hosts.cleanupplan", object_id=str(plan["id"])
        )
        .order_by("id")
        .values_list("action", "actor_name")
    )
    assert trail == [
        ("cleanup.planned", "root"),
        ("cleanup.notice_sent", "root"),
        ("cleanup.kept", "alice"),
        ("cleanup.released", "alice"),
        ("cleanup.notice_ended", ""),
        ("cleanup.executed", "root"),
    ]
    # A kept volume is passed over by the next rule until its time is up.
    again = post(as_admin, "/api/v1/cleanup-plans", {"endpoint_id": endpoint.pk})
    assert kept not in {item["volume_name"] for item in again.json()["items"]}
    assert CleanupItem.objects.get(pk=items[kept]["id"]).detail.startswith("kept until")
