"""A worker killed with SIGKILL in the middle of its work is not a leak:
restarted, it takes the work up again, and the engine then holds exactly what
the database says."""

import contextlib
import uuid

import docker.errors
import pytest

from hosts.builds import logs as buildlogs
from hosts.core import installation
from hosts.models import Build, BuildHost, CleanupPlan
from hosts.volumes import commands as volumes
from hosts.volumes import ledger
from tests.support.contexts import slow_context
from tests.support.hostcheck import engine_objects, new_host, wait_settled
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

# Steps after which the engine already holds something of the host.
MIDWAY = ("create_container", "inject_certs", "start", "wait_ready")


def step_of(host):
    host.refresh_from_db()
    return host.step in MIDWAY


def test_killed_mid_provision_the_host_settles_after_restart(
    worker, engine, endpoint, registry, developer, leftovers
):
    worker.start()
    host = new_host(developer, endpoint, registry_ids=[registry.pk])
    wait_until(lambda: step_of(host), f"a step among {MIDWAY}")
    worker.kill()
    host.refresh_from_db()
    assert host.state == BuildHost.State.PROVISIONING, (
        "killed too late to prove anything"
    )
    assert host.lease_owner, "the dead worker's lease should still be there"
    killed_at = host.step

    worker.start(log_name="fault-worker-restarted")
    host = wait_settled(host)

    assert host.state == BuildHost.State.READY, host.error
    # The worker lets its lease go just after the host is ready (the ready
    # host's notification is sent in between): released, not left behind.
    wait_until(
        lambda: not BuildHost.objects.get(pk=host.pk).lease_owner,
        "the restarted worker to release its lease on the ready host",
    )
    # The step it was killed in ran again, as a second attempt, and says so.
    assert host.steps.filter(name=killed_at).count() == 2
    # The dead worker's attempt ended as interrupted, not "running" for ever
    # (unless the kill came between its end and the next step's start).
    first = host.steps.get(name=killed_at, attempt=1)
    assert (first.status, first.reason) in {
        ("failed", "interrupted"),
        ("done", ""),
    }, (first.status, first.reason)
    assert not host.steps.filter(status="running").exists()
    from hosts.ops import metrics

    assert f'dchweb_task_retries_total{{step="{killed_at}"}} 1' in metrics.exposition()
    containers, kept = engine_objects(engine, host)
    assert [c.name for c in containers] == [host.container_name]
    assert containers[0].status == "running"
    assert sorted(v.name for v in kept) == sorted(host.volume_names)
    # Nothing else of this installation on the engine.
    label = f"io.dchweb.installation={installation.installation_id()}"
    assert len(engine.containers.list(all=True, filters={"label": label})) == 1
    assert len(engine.volumes.list(filters={"label": label})) == 2


def test_killed_mid_build_the_build_runs_again_and_succeeds(
    worker, endpoint, registry, developer, busybox, devstack, leftovers, tmp_path
):
    from hosts.builds import commands as builds

    worker.start()
    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    assert host.state == BuildHost.State.READY, host.error
    context = tmp_path / "slow.tar"
    context.write_bytes(slow_context(busybox, seconds=4))
    with context.open("rb") as upload:
        build = builds.create_build(
            developer,
            {
                "tag": f"fault-{uuid.uuid4().hex[:6]}:1",
                "build_host_id": host.pk,
                "push": False,
            },
            upload=_Upload(upload, context.stat().st_size),
            source="api",
        )
    wait_until(lambda: b"sleeping" in buildlogs.read(build.pk, 0)[0], "the slow step")
    worker.kill()

    worker.start(log_name="fault-worker-restarted")
    build = wait_until(
        lambda: (b := Build.objects.get(pk=build.pk)).is_final and b, "the build", 180
    )

    assert build.state == Build.State.SUCCEEDED, build.error
    assert "started again" in buildlogs.path_of(build.pk).read_text()
    host.refresh_from_db()
    assert host.state == BuildHost.State.READY


class _Upload:
    """What Django hands a view for an uploaded file, enough for the service."""

    def __init__(self, file, size):
        self.file, self.size = file, size

    def chunks(self, chunk_size):
        while data := self.file.read(chunk_size):
            yield data


def test_killed_mid_cleanup_the_plan_finishes_after_restart(
    worker, engine, endpoint, admin
):
    tag = uuid.uuid4().hex[:8]
    names = [engine.volumes.create(f"fault-{tag}-{n:02}").name for n in range(40)]
    try:
        ledger.refresh(endpoint)
        plan = volumes.make_plan(admin, {"volume_names": names}, source="api")
        worker.start()
        volumes.execute(admin, plan, source="api")
        wait_until(
            lambda: plan.items.exclude(result="").exists(), "the first volume removed"
        )
        worker.kill()
        assert plan.items.filter(result="").exists(), (
            "killed too late to prove anything"
        )

        worker.start(log_name="fault-worker-restarted")
        plan = wait_until(
            lambda: (p := CleanupPlan.objects.get(pk=plan.pk)).state == "done" and p,
            "the plan to finish",
        )

        results = set(plan.items.values_list("result", flat=True))
        assert results <= {"removed", "not_found"}, results
        left = {v.name for v in engine.volumes.list()} & set(names)
        assert left == set()
    finally:
        for name in names:
            with contextlib.suppress(docker.errors.NotFound):
                engine.volumes.get(name).remove(force=True)
