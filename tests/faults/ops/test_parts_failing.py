"""Real parts failing mid-work: Redis restarted, the endpoint's engine going
away and coming back (behind a proxy, and its dockerd itself stopped and
started again), the registry stopped before a push. After each the
system settles by itself (the periodic reconciler's pass is called here as
beat would call it) and the engine holds exactly what the database says."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from hosts.accounts import commands as accounts
from hosts.buildhosts import reconciler
from hosts.builds import logs as buildlogs
from hosts.models import Build, BuildHost
from hosts.ops import tasks
from tests.support import faults, world
from tests.support.contexts import hello_context, slow_context
from tests.support.hostcheck import (
    bundle_dir,
    engine_objects,
    new_host,
    wait_answering,
    wait_settled,
)
from tests.support.proxy import SocketProxy
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]


def test_redis_restarted_mid_provision_nothing_asked_for_is_lost(
    worker, engine, endpoint, registry, developer, leftovers
):
    worker.start()
    first = new_host(developer, endpoint, registry_ids=[registry.pk])
    wait_until(lambda: first.steps.exists(), "the provision to start")

    faults.restart_redis()
    # Asked while the queue was empty after the restart: saved, not lost.
    second = new_host(developer, endpoint, registry_ids=[registry.pk])
    first = wait_settled(first)
    tasks.resume_interrupted()  # what beat's reconcile pass does every minute
    second = wait_settled(second)

    for host in (first, second):
        assert host.state == BuildHost.State.READY, host.error
        containers, kept = engine_objects(engine, host)
        assert len(containers) == 1 and len(kept) == 2


def test_an_endpoint_that_stops_answering_mid_provision_is_cleaned_up_when_back(
    worker, engine, devstack, registry, developer, build_host_image, leftovers, settings
):
    settings.DCHWEB_RECONCILE_GRACE_SECONDS = 0
    proxy = SocketProxy(devstack["docker_url"].removeprefix("unix://")).start()
    endpoint = world.devstack_endpoint(devstack, name="flaky", docker_url=proxy.url)
    try:
        worker.start()
        host = new_host(developer, endpoint, registry_ids=[registry.pk])
        wait_until(
            lambda: BuildHost.objects.get(pk=host.pk).step == "inject_certs",
            "the host's container to exist",
        )
        proxy.stop()
        host = wait_settled(host)
        assert host.state == BuildHost.State.FAILED
        assert host.error_reason in ("connection_refused", "connection_reset"), (
            host.error
        )
        assert "clean-up incomplete" in host.error
        assert len(engine_objects(engine, host)[0]) == 1, "the leftover the fault made"

        proxy.start()  # the engine is back, on the same address
        summary = reconciler.reconcile_endpoint(endpoint.pk)
    finally:
        proxy.stop()

    assert summary["error"] == ""
    assert engine_objects(engine, host) == ([], [])
    assert summary["containers_removed"] == [host.container_name]


def test_the_engine_stopped_and_started_again_settles_by_itself(
    worker,
    engine,
    endpoint,
    registry,
    developer,
    busybox,
    devstack,
    leftovers,
    settings,
    tmp_path,
):
    settings.DCHWEB_RECONCILE_GRACE_SECONDS = 0
    worker.start()
    ready = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    assert ready.state == BuildHost.State.READY, ready.error
    midway = new_host(developer, endpoint, registry_ids=[registry.pk])
    # inject_certs and start are quick; wait_ready (dockerd starting inside)
    # lasts long enough for a poll to see one of the three.
    wait_until(
        lambda: (
            BuildHost.objects.get(pk=midway.pk).step
            in ("inject_certs", "start", "wait_ready")
        ),
        "the second host's container to exist",
        interval=0.01,
    )

    others = faults.others_running(engine)
    try:
        faults.stop_engine()
        midway = wait_settled(midway)
    finally:
        faults.start_engine(others)
    summary = reconciler.reconcile_endpoint(endpoint.pk)

    assert summary["error"] == "", summary
    assert ready.name in summary["started_again"]
    # The host that was provisioning when the engine went: failed with the
    # reason, and the container it left removed by the reconciler's pass;
    # or, if it beat the stop by a hair, ready and started again like the
    # other. Either way the database and the engine agree.
    midway.refresh_from_db()
    if midway.state == BuildHost.State.FAILED:
        assert midway.error_reason in ("connection_refused", "connection_reset")
        assert "clean-up incomplete" in midway.error
        assert engine_objects(engine, midway) == ([], [])
    for host in (ready, midway):
        host.refresh_from_db()
        if host is ready or host.state != BuildHost.State.FAILED:
            assert host.state == BuildHost.State.READY, host.error
            containers, kept = engine_objects(engine, host)
            assert [c.status for c in containers] == ["running"] and len(kept) == 2
            wait_answering(host, bundle_dir(host, tmp_path / host.short_id))
    # Nothing the first host had is lost: it builds and pushes again.
    client = api_client(developer)
    build_id = start_build(client, ready, new_tag(devstack), hello_context(busybox))
    build = wait_build_final(build_id)
    assert build.state == Build.State.SUCCEEDED, build.error


def api_client(owner):
    token = accounts.create_api_token(owner, "t", actor=owner, source="cli")[1]
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def new_tag(devstack):
    return f"{devstack['registry']}/default-project/fault-{uuid.uuid4().hex[:8]}:1"


def start_build(client, host, tag, context):
    """POST /api/v1/builds on `host`; the new build's id."""
    answer = client.post(
        "/api/v1/builds",
        data={
            "tag": tag,
            "build_host_id": str(host.pk),
            "context": SimpleUploadedFile("c.tar", context),
        },
    )
    assert answer.status_code == 202, answer.content
    return answer.json()["id"]


def wait_build_final(build_id):
    return wait_until(
        lambda: (b := Build.objects.get(pk=build_id)).is_final and b,
        "the build to end",
    )


def test_a_registry_stopped_before_the_push_fails_the_build_and_nothing_is_lost(
    worker, engine, endpoint, registry, developer, busybox, devstack, leftovers
):
    worker.start()
    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    assert host.state == BuildHost.State.READY, host.error
    client = api_client(developer)
    tag = new_tag(devstack)
    registry_container = engine.containers.get(faults.REGISTRY_CONTAINER)

    build_id = start_build(client, host, tag, slow_context(busybox, seconds=3))
    try:
        wait_until(lambda: b"sleeping" in buildlogs.read(build_id, 0)[0], "the build")
        registry_container.stop(timeout=2)
        build = wait_build_final(build_id)
    finally:
        registry_container.start()
        faults.wait_for_registry(devstack)

    assert build.state == Build.State.FAILED
    assert build.step == "push" and build.digest == ""
    assert build.error, "the failure says why"
    assert "FAILED at push" in buildlogs.path_of(build_id).read_text()
    host.refresh_from_db()
    assert host.state == BuildHost.State.READY
    # With the registry back, the same build succeeds.
    retried = wait_build_final(start_build(client, host, tag, hello_context(busybox)))
    assert retried.state == Build.State.SUCCEEDED, retried.error
