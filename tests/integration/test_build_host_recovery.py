"""A worker killed in the middle of a provision is not a leak: restarted, it
takes the work up again and the host settles; the engine then holds exactly
what the database says."""

import os
import signal
import time
import uuid

import pytest

from dchweb.celery import app
from hosts import installation
from hosts.models import BuildHost
from tests.conftest import start_celery_worker, stop_process
from tests.support.hostcheck import engine_objects, new_host, wait_settled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Steps after which the engine already holds something of the host.
MIDWAY = ("create_container", "inject_certs", "start", "wait_ready")


@pytest.fixture
def own_queue():
    """Tasks go to a queue only this test's workers listen on."""
    queue = f"dchweb-kill-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    yield queue
    app.conf.task_default_queue = previous


def wait_for_step(host, steps, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host.refresh_from_db()
        if host.step in steps:
            return host
        time.sleep(0.02)
    pytest.fail(f"the provision never reached {steps}: it is {host.state}/{host.step}")


def test_a_worker_killed_mid_provision_resumes_after_restart(
    own_queue, engine, endpoint, registry, developer, leftovers
):
    worker = start_celery_worker(own_queue, log_name="killed-worker")
    try:
        host = new_host(developer, endpoint, registry_ids=[registry.pk])
        wait_for_step(host, MIDWAY)
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    finally:
        stop_process(worker)
    host.refresh_from_db()
    assert host.state == BuildHost.State.PROVISIONING, (
        "killed too late to prove anything"
    )
    assert host.lease_owner, "the dead worker's lease should still be there"
    killed_at = host.step

    restarted = start_celery_worker(own_queue, log_name="restarted-worker")
    try:
        host = wait_settled(host)
    finally:
        stop_process(restarted)

    assert host.state == BuildHost.State.READY, host.error
    assert host.lease_owner == ""
    # The step it was killed in ran again, as a second attempt.
    assert host.steps.filter(name=killed_at).count() == 2
    containers, volumes = engine_objects(engine, host)
    assert [c.name for c in containers] == [host.container_name]
    assert containers[0].status == "running"
    assert sorted(v.name for v in volumes) == sorted(host.volume_names)
    # Nothing else of this installation on the engine.
    label = f"io.dchweb.installation={installation.installation_id()}"
    assert len(engine.containers.list(all=True, filters={"label": label})) == 1
    assert len(engine.volumes.list(filters={"label": label})) == 2
