"""The volume ledger against the devstack engine: every kind of volume a
build-host engine collects, made directly with docker-py, gets the right
status, owner or provenance; a clean-up removes exactly its plan and never a
volume that is in use."""

import contextlib
import io
import json
import time
import uuid
from contextlib import redirect_stderr

import docker.errors
import pytest
from django.core.management import call_command

from hosts.buildhosts import commands as buildhosts
from hosts.models import BuildHost, Volume
from hosts.volumes import cleanup, ledger
from hosts.volumes import commands as volumes
from tests.support import world
from tests.support.hostcheck import new_host, wait_settled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def made(engine, build_host_image, devstack):
    """Objects the test makes by hand; removed afterwards."""
    things = {"containers": [], "volumes": []}
    yield things
    for container in things["containers"]:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    for name in things["volumes"]:
        with contextlib.suppress(docker.errors.NotFound):
            engine.volumes.get(name).remove(force=True)


def sleeper(engine, image, made, network, **kwargs):
    container = engine.containers.run(
        image, entrypoint=["sleep", "600"], detach=True, network=network, **kwargs
    )
    made["containers"].append(container)
    return container


@pytest.fixture
def kept_host(celery_worker, endpoint, registry, developer, leftovers):
    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    assert host.state == BuildHost.State.READY, host.error
    buildhosts.request_removal(developer, host, "keep", source="api")
    host = wait_settled(host)
    assert host.state == BuildHost.State.REMOVED
    return host


def ledger_row(endpoint, name):
    return Volume.objects.get(endpoint=endpoint, name=name)


def test_every_kind_of_volume_gets_its_status_owner_or_provenance(
    kept_host, endpoint, engine, build_host_image, devstack, made
):
    tag = uuid.uuid4().hex[:8]
    # A dch-photon someone ran by hand: two anonymous volumes.
    by_hand = engine.containers.create(
        build_host_image, name=f"by-hand-{tag}", network=devstack["network"]
    )
    made["containers"].append(by_hand)
    anonymous = [m["Name"] for m in by_hand.attrs["Mounts"]]
    made["volumes"].extend(anonymous)
    # A named volume in use by a running container, and a named dangling one.
    in_use = engine.volumes.create(f"in-use-{tag}").name
    dangling = engine.volumes.create(f"dangling-{tag}").name
    made["volumes"] += [in_use, dangling]
    sleeper(
        engine,
        build_host_image,
        made,
        devstack["network"],
        volumes={in_use: {"bind": "/data", "mode": "rw"}},
    )
    ledger.refresh(endpoint)  # sees the hand-made container with its volumes
    by_hand.remove()  # without v=True: the anonymous volumes stay behind

    result = ledger.refresh(endpoint)

    assert result.error == "" and result.engine_calls == 2
    for name in kept_host.volume_names:
        row = ledger_row(endpoint, name)
        assert (row.status, row.managed, row.owner_name) == ("orphaned", True, "alice")
        assert row.build_host_id == kept_host.pk
    for name in anonymous:
        row = ledger_row(endpoint, name)
        assert (row.status, row.anonymous, row.managed) == ("dangling", True, False)
        assert row.last_container == f"by-hand-{tag}"
        assert row.last_image == build_host_image
        assert row.detached_since is not None
    row = ledger_row(endpoint, in_use)
    assert row.status == "in_use" and row.attached_to and row.last_attached
    assert ledger_row(endpoint, dangling).status == "dangling"
    # Not attached to anything, by the ledger and by the engine, agree.
    unattached = set(
        Volume.objects.filter(endpoint=endpoint, present=True)
        .exclude(status="in_use")
        .values_list("name", flat=True)
    )
    docker_dangling = {v.name for v in engine.volumes.list(filters={"dangling": True})}
    assert unattached == docker_dangling


def test_a_plan_removes_exactly_its_volumes_and_skips_one_attached_since(
    kept_host, endpoint, engine, build_host_image, devstack, made, admin
):
    stranger = engine.volumes.create(f"stranger-{uuid.uuid4().hex[:8]}").name
    made["volumes"].append(stranger)
    ledger.refresh(endpoint)
    data_volume, certs_volume = kept_host.volume_names

    plan = volumes.make_plan(admin, {"status": "orphaned"}, source="api")

    assert sorted(plan.items.values_list("volume_name", flat=True)) == sorted(
        kept_host.volume_names
    ), "a rule picks only this installation's orphaned volumes"
    # Between plan and execution, someone starts using one of them.
    sleeper(
        engine,
        build_host_image,
        made,
        devstack["network"],
        volumes={certs_volume: {"bind": "/data", "mode": "rw"}},
    )

    plan = volumes.execute(admin, plan, now=True, source="api")

    results = dict(plan.items.values_list("volume_name", "result"))
    assert results == {data_volume: "removed", certs_volume: "skipped_in_use"}
    names = {v.name for v in engine.volumes.list()}
    assert data_volume not in names
    assert certs_volume in names and stranger in names
    assert plan.approved_by == admin and plan.state == "done"


def test_the_cleanup_command_dry_run_changes_nothing_and_execute_says_what_it_removed(
    kept_host, endpoint, engine
):
    out = io.StringIO()
    with redirect_stderr(io.StringIO()):
        call_command(
            "volumes", "audit", "--endpoint", endpoint.name, "--json", stdout=out
        )
    audited = {row["name"]: row for row in json.loads(out.getvalue())["volumes"]}
    assert audited[kept_host.volume_names[0]]["status"] == "orphaned"

    dry = io.StringIO()
    with redirect_stderr(io.StringIO()):
        call_command(
            "volumes", "cleanup", "--status", "orphaned", "--dry-run", stdout=dry
        )
    assert all(name in dry.getvalue() for name in kept_host.volume_names)
    assert {v.name for v in engine.volumes.list()} >= set(kept_host.volume_names)

    done = io.StringIO()
    with redirect_stderr(io.StringIO()):
        call_command(
            "volumes", "cleanup", "--status", "orphaned", "--execute", stdout=done
        )
    for name in kept_host.volume_names:
        assert f"{name}\tremoved" in done.getvalue()
    assert not set(kept_host.volume_names) & {v.name for v in engine.volumes.list()}


def test_rescanning_is_for_admins_only(endpoint, developer, admin):
    """A developer reads their own volumes (tests/integration/volumes/
    test_owner_cleanup.py); rescanning the engines is an admin's."""
    as_developer, as_admin = world.api_client(developer), world.api_client(admin)
    assert (
        as_developer.post(
            "/api/v1/volumes/refresh", data={}, content_type="application/json"
        ).status_code
        == 403
    )
    assert as_admin.get("/api/v1/volumes").status_code == 200


def test_the_optional_reap_policy_uses_a_plan_and_the_audit_trail(
    kept_host, endpoint, engine
):
    from hosts.models import AuditEvent

    ledger.refresh(endpoint)

    plan = cleanup.reap_orphaned(0)

    assert plan.state == "done"
    assert sorted(plan.items.values_list("volume_name", flat=True)) == sorted(
        kept_host.volume_names
    )
    assert not set(kept_host.volume_names) & {v.name for v in engine.volumes.list()}
    event = AuditEvent.objects.get(action="cleanup.executed", object_id=str(plan.pk))
    assert event.source == "task" and event.details["results"] == {"removed": 2}


def test_totals_read_before_a_refresh_in_the_worker_show_it_after(
    celery_worker, endpoint, engine, admin, made
):
    """The totals are cached in this process under the ledger's stamp; the
    worker, another process, rescans; the next read shows the new volume."""
    owner = f"totals-{uuid.uuid4().hex[:8]}"  # this test's alone, on a shared engine
    as_admin = world.api_client(admin)

    def mine():
        return as_admin.get("/api/v1/volumes", {"owner": owner}).json()

    assert mine()["count"] == 0
    assert mine()["count"] == 0  # and now from the cache
    name = engine.volumes.create(owner, labels={"io.dchweb.owner": owner}).name
    made["volumes"].append(name)

    asked = as_admin.post(
        "/api/v1/volumes/refresh",
        {"endpoint_id": endpoint.pk},
        content_type="application/json",
    )
    assert asked.status_code == 202
    deadline = time.monotonic() + 60
    while mine()["count"] == 0 and time.monotonic() < deadline:
        time.sleep(0.5)

    found = mine()
    assert found["count"] == 1
    assert [item["name"] for item in found["items"]] == [name]
    assert [(row["key"], row["volumes"]) for row in found["by_owner"]] == [(owner, 1)]
