"""Real parts failing mid-work: Redis restarted, the endpoint's engine going
away and coming back, the registry stopped before a push. After each the
system settles by itself (the periodic reconciler's pass is called here as
beat would call it) and the engine holds exactly what the database says."""

import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from django.test import Client

from hosts import buildlogs, reconciler, services, tasks
from hosts.models import Build, BuildHost
from tests.faults.conftest import wait_until
from tests.support import world
from tests.support.contexts import hello_context, slow_context
from tests.support.hostcheck import engine_objects, new_host, wait_settled
from tests.support.proxy import SocketProxy

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def redis_pid():
    return int((ROOT / "var/devstack/redis.pid").read_text())


def restart_redis():
    """Stop the devstack's Redis (its queue is in memory: every waiting
    message is lost) and start it again as devstack/up does."""
    os.kill(redis_pid(), signal.SIGTERM)
    wait_until(lambda: not (ROOT / "var/devstack/redis.sock").exists(), "Redis to stop")
    subprocess.run([str(ROOT / "devstack/up")], check=True, capture_output=True)


def test_redis_restarted_mid_provision_nothing_asked_for_is_lost(
    worker, engine, endpoint, registry, developer, leftovers
):
    worker.start()
    first = new_host(developer, endpoint, registry_ids=[registry.pk])
    wait_until(lambda: first.steps.exists(), "the provision to start")

    restart_redis()
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


def test_a_registry_stopped_before_the_push_fails_the_build_and_nothing_is_lost(
    worker, engine, endpoint, registry, developer, busybox, devstack, leftovers
):
    worker.start()
    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    assert host.state == BuildHost.State.READY, host.error
    token = services.create_api_token(developer, "t", actor=developer, source="cli")[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    tag = f"{devstack['registry']}/default-project/fault-{uuid.uuid4().hex[:8]}:1"
    registry_container = engine.containers.get("dchweb-registry")

    from django.core.files.uploadedfile import SimpleUploadedFile

    answer = client.post(
        "/api/v1/builds",
        data={
            "tag": tag,
            "build_host_id": str(host.pk),
            "context": SimpleUploadedFile("c.tar", slow_context(busybox, seconds=3)),
        },
    )
    build_id = answer.json()["id"]
    try:
        wait_until(lambda: b"sleeping" in buildlogs.read(build_id, 0)[0], "the build")
        registry_container.stop(timeout=2)
        build = wait_until(
            lambda: (b := Build.objects.get(pk=build_id)).is_final and b,
            "the build end",
        )
    finally:
        registry_container.start()
        _wait_for_registry(devstack)

    assert build.state == Build.State.FAILED
    assert build.step == "push" and build.digest == ""
    assert build.error, "the failure says why"
    assert "FAILED at push" in buildlogs.path_of(build_id).read_text()
    host.refresh_from_db()
    assert host.state == BuildHost.State.READY
    # With the registry back, the same build succeeds.
    again = client.post(
        "/api/v1/builds",
        data={
            "tag": tag,
            "build_host_id": str(host.pk),
            "context": SimpleUploadedFile("c.tar", hello_context(busybox)),
        },
    )
    retried = wait_until(
        lambda: (b := Build.objects.get(pk=again.json()["id"])).is_final and b, "retry"
    )
    assert retried.state == Build.State.SUCCEEDED, retried.error


def _wait_for_registry(devstack, timeout=30):
    from hosts import registry_check

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = registry_check.check_registry(
            devstack["registry"],
            devstack["registry_ca"].decode(),
            devstack["registry_user"],
            devstack["registry_password"],
        )
        if result.ok:
            return
        time.sleep(0.3)
    pytest.fail("the registry did not come back")
