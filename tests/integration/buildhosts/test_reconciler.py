"""The reconciler against the devstack engine: it adopts what it knows by
label, ignores what is not labelled as this installation's, marks what
vanished after three listings, starts again a ready host whose container
stopped, and touches nothing when the listing fails."""

import pytest

from hosts.buildhosts import reconciler
from hosts.models import AuditEvent, BuildHost
from tests.support.hostcheck import (
    bundle_dir,
    engine_objects,
    wait_answering,
    wait_settled,
)

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_grace(settings):
    settings.DCHWEB_RECONCILE_GRACE_SECONDS = 0


@pytest.fixture
def stranger_container(engine, build_host_image, devstack):
    """A container dchweb did not make: no labels at all."""
    container = engine.containers.create(
        build_host_image, command=["-tlsverify"], network=devstack["network"]
    )
    yield container
    container.remove(force=True, v=True)


def test_adopts_a_labelled_container_the_database_lost_and_ignores_others(
    ready_host, stranger_container, endpoint, engine, no_grace
):
    lost_id = ready_host.pk
    BuildHost.objects.filter(pk=lost_id).delete()

    summary = reconciler.reconcile_endpoint(endpoint.pk)

    adopted = BuildHost.objects.get(pk=lost_id)
    assert adopted.adopted and adopted.state == BuildHost.State.READY
    assert adopted.owner.username == "alice"
    assert adopted.port == ready_host.port
    assert summary["adopted"] == [ready_host.container_name]
    assert summary["database"] == summary["engine"] == 1
    # The stranger is neither adopted nor touched.
    assert BuildHost.objects.count() == 1
    stranger_container.reload()
    assert stranger_container.status == "created"
    endpoint.refresh_from_db()
    assert endpoint.reconcile_summary["adopted"] == [ready_host.container_name]


def test_a_vanished_container_is_marked_missing_after_three_listings(
    ready_host, endpoint, engine, no_grace
):
    engine.containers.get(ready_host.container_name).remove(force=True)

    for _ in range(reconciler.MISSES_BEFORE_MISSING - 1):
        reconciler.reconcile_endpoint(endpoint.pk)
        ready_host.refresh_from_db()
        assert ready_host.state == BuildHost.State.READY
    summary = reconciler.reconcile_endpoint(endpoint.pk)

    ready_host.refresh_from_db()
    assert ready_host.state == BuildHost.State.FAILED
    assert ready_host.error_reason == "missing"
    assert summary["missing"] == [ready_host.name]


def test_a_ready_host_whose_container_stopped_is_started_again(
    ready_host, endpoint, engine, no_grace, tmp_path
):
    engine.containers.get(ready_host.container_name).stop(timeout=5)

    summary = reconciler.reconcile_endpoint(endpoint.pk)

    assert summary["started_again"] == [ready_host.name]
    ready_host.refresh_from_db()
    assert ready_host.state == BuildHost.State.READY
    assert engine.containers.get(ready_host.container_name).status == "running"
    # The owner's bundle opens it again, at the port the database now has.
    wait_answering(ready_host, bundle_dir(ready_host, tmp_path / "bundle"))
    event = AuditEvent.objects.get(action="build_host.restarted")
    assert event.object_id == str(ready_host.pk)
    assert event.details["was"] == "exited"


def test_a_host_whose_container_cannot_start_again_is_failed_with_the_reason(
    ready_host, endpoint, engine, no_grace
):
    container = engine.containers.get(ready_host.container_name)
    container.stop(timeout=5)
    # Its network deleted under it: the engine refuses to start it again.
    network = engine.networks.create(f"dchweb-test-gone-{ready_host.short_id}")
    network.connect(container)
    network.remove()

    summary = reconciler.reconcile_endpoint(endpoint.pk)

    assert summary["failed_to_start"] == [ready_host.name]
    ready_host.refresh_from_db()
    assert ready_host.state == BuildHost.State.FAILED
    assert "could not be started again" in ready_host.error
    assert AuditEvent.objects.filter(action="build_host.lost").exists()


def test_nothing_is_touched_within_the_grace_period(ready_host, endpoint, settings):
    settings.DCHWEB_RECONCILE_GRACE_SECONDS = 3600
    BuildHost.objects.filter(pk=ready_host.pk).delete()

    summary = reconciler.reconcile_endpoint(endpoint.pk)

    assert "adopted" not in summary
    assert not BuildHost.objects.filter(pk=ready_host.pk).exists()


def test_a_failed_listing_changes_nothing(ready_host, endpoint, engine, no_grace):
    ready_host.missed_listings = 2
    ready_host.save()
    endpoint.docker_url = "unix:///nonexistent/docker.sock"
    endpoint.save()

    summary = reconciler.reconcile_endpoint(endpoint.pk)

    assert "connection refused" in summary["error"]
    ready_host.refresh_from_db()
    assert ready_host.state == BuildHost.State.READY
    assert ready_host.missed_listings == 2
    assert len(engine_objects(engine, ready_host)[0]) == 1


def test_kept_volumes_are_removed_when_their_days_are_up(
    ready_host, endpoint, engine, no_grace
):
    from datetime import timedelta

    from django.utils import timezone

    engine.containers.get(ready_host.container_name).remove(force=True)
    BuildHost.objects.filter(pk=ready_host.pk).update(
        state=BuildHost.State.REMOVED,
        volume_policy=BuildHost.VolumePolicy.KEEP_DAYS,
        keep_days=1,
        remove_volumes=False,
        volumes_kept_until=timezone.now() + timedelta(days=1),
    )
    reconciler.reconcile_endpoint(endpoint.pk)
    assert len(engine_objects(engine, ready_host)[1]) == 2

    BuildHost.objects.filter(pk=ready_host.pk).update(volumes_kept_until=timezone.now())
    summary = reconciler.reconcile_endpoint(endpoint.pk)

    assert engine_objects(engine, ready_host)[1] == []
    assert sorted(summary["volumes_removed"]) == sorted(ready_host.volume_names)


def test_the_reaper_removes_expired_hosts_by_their_policy(ready_host, engine):
    from django.utils import timezone

    from hosts.models import AuditEvent
    from hosts.ops import tasks

    BuildHost.objects.filter(pk=ready_host.pk).update(expires_at=timezone.now())

    assert tasks.reap_expired_hosts() == 1
    host = wait_settled(ready_host)

    assert host.state == BuildHost.State.REMOVED
    assert engine_objects(engine, host) == ([], [])
    event = AuditEvent.objects.get(action="build_host.reaped")
    assert event.object_id == str(host.pk) and event.source == "task"
