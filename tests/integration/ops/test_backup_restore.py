"""Backup and restore with a build host running on the devstack engine: the
backup is restored onto a fresh installation (an emptied database, an empty
data folder), and the reconciler's pass, as beat runs it, takes the host up
again: nothing adopted, nothing removed, the owner's bundle still opens it,
and the audit trail holds every event from before plus the restore's."""

import pytest
from django.core.management import call_command

from hosts.buildhosts import reconciler
from hosts.buildhosts import tasks as buildhost_tasks
from hosts.builds import logs
from hosts.core import installation
from hosts.models import AuditEvent, BuildHost
from hosts.ops import tasks as ops_tasks
from tests.support.commands import run
from tests.support.hostcheck import (
    bundle_dir,
    engine_objects,
    remove_installation_objects,
    wait_answering,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BUILD_ID = "5b0e7c1d2a3f4e5d6c7b8a9f0e1d2c3b"
# What the reconciler does only to a host it does not know, or has lost.
UNKNOWN_OR_LOST = (
    "adopted",
    "missing",
    "containers_removed",
    "volumes_removed",
    "failed_to_start",
    "started_again",
    "unowned",
)


@pytest.fixture
def no_grace(settings):
    """The reconciler acts on young objects too: a host the restore had lost
    would be adopted at once, not left alone for its youth."""
    settings.DCHWEB_RECONCILE_GRACE_SECONDS = 0


@pytest.fixture
def engine_cleanup(engine):
    """The `leftovers` fixture finds this installation's objects by the id in
    the database; should the restore lose it, they are still removed."""
    found = {}
    yield found
    remove_installation_objects(engine, found.get("id"))


def trail():
    return list(
        AuditEvent.objects.order_by("pk").values_list(
            "pk",
            "created_at",
            "actor_name",
            "action",
            "object_type",
            "object_id",
            "details",
            "source",
        )
    )


def reconcile_as_beat():
    """Beat's pass (hosts.ops.tasks.reconcile_endpoints) step by step: take
    up interrupted work, reap expired hosts, one reconcile task per enabled
    endpoint, each run here rather than on the worker, whose settings keep
    the grace period. What each step did, and each endpoint's summary."""
    resumed = ops_tasks.resume_interrupted(grace=ops_tasks.QUEUE_GRACE)
    reaped = ops_tasks.reap_expired_hosts()
    summaries = {}
    reconciler.reconcile_all(
        lambda endpoint_id: summaries.setdefault(
            endpoint_id,
            buildhost_tasks.reconcile_endpoint.apply(args=[endpoint_id]).get(),
        )
    )
    return resumed, reaped, summaries


def test_a_restored_installation_takes_up_its_running_build_host(
    ready_host, endpoint, engine, data_dir, settings, tmp_path, no_grace, engine_cleanup
):
    engine_cleanup["id"] = installation.installation_id()
    owner_bundle = bundle_dir(ready_host, tmp_path / "owner-bundle")
    logs.append(BUILD_ID, "Step 1/2 : FROM scratch\n")
    containers, volumes = engine_objects(engine, ready_host)
    before = trail()
    path = tmp_path / "dchweb-backup.tar.gz"
    run("backup", str(path))

    # A fresh installation: its database emptied, a new empty data folder.
    call_command("flush", interactive=False, verbosity=0)
    settings.DCHWEB_DATA_DIR = tmp_path / "fresh-data"
    assert not BuildHost.objects.exists()
    out, _ = run("restore", str(path))

    assert "restored" in out
    after = trail()
    assert after[:-1] == before
    assert after[-1][3] == "backup.restored"
    assert installation.installation_id() == engine_cleanup["id"]
    assert logs.tail(BUILD_ID)[0] == "Step 1/2 : FROM scratch\n"

    resumed, reaped, summaries = reconcile_as_beat()

    assert (resumed, reaped) == (0, 0)
    summary = summaries[endpoint.pk]
    assert summary["error"] == ""
    assert summary["database"] == summary["engine"] == 1
    assert not [key for key in UNKNOWN_OR_LOST if summary.get(key)], summary
    host = BuildHost.objects.get(pk=ready_host.pk)
    assert host.state == BuildHost.State.READY and not host.adopted
    assert (host.container_id, host.port) == (ready_host.container_id, ready_host.port)
    # Nothing removed on the engine: the same container, running, and volumes.
    now_containers, now_volumes = engine_objects(engine, host)
    assert [c.id for c in now_containers] == [c.id for c in containers]
    assert now_containers[0].status == "running"
    assert sorted(v.name for v in now_volumes) == sorted(v.name for v in volumes)
    # The bundle the owner had still opens it, and so does the one the
    # restored database hands out (its key decrypted with the key in use).
    wait_answering(host, owner_bundle)
    wait_answering(host, bundle_dir(host, tmp_path / "restored-bundle"))
    assert host.owner.check_password("alice-password-1")
    assert trail()[: len(after)] == after
