"""docs/examples/dchweb-build.sh, as a CI job runs it: against a real server,
worker, engine and registry; the digest it prints is the one dchweb pushed."""

import signal
import subprocess
import time
import uuid
from datetime import timedelta

import pytest

from hosts.models import Build, BuildHost
from hosts.ops import tasks as ops_tasks
from tests.conftest import ROOT
from tests.support.hostcheck import assert_nothing_left, wait_settled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SCRIPT = ROOT / "docs/examples/dchweb-build.sh"


def script_env(live_server, token, **extra):
    return {
        "PATH": "/usr/bin:/bin",
        "DCHWEB_URL": live_server.url,
        "DCHWEB_TOKEN": token,
        **extra,
    }


def run_script(live_server, token, context_dir, tag, endpoint):
    return subprocess.run(
        ["sh", str(SCRIPT), str(context_dir), tag, str(endpoint.pk)],
        env=script_env(live_server, token),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_ci_script_builds_pushes_and_prints_the_digest(
    live_server,
    celery_worker,
    endpoint,
    registry,
    developer_token,
    busybox,
    devstack,
    tmp_path,
    leftovers,
):
    (tmp_path / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "true"]\n'
    )
    (tmp_path / "busybox").write_bytes(busybox)
    tag = f"{devstack['registry']}/default-project/ci-{uuid.uuid4().hex[:8]}:1"

    done = run_script(live_server, developer_token, tmp_path, tag, endpoint)

    assert done.returncode == 0, done.stderr + done.stdout
    build = Build.objects.get()
    assert done.stdout.strip().splitlines()[-1] == build.digest
    assert "COPY busybox" in done.stdout
    # The script removed its host on the way out.
    host = wait_settled(BuildHost.objects.get(pk=build.build_host_id))
    assert host.state == "removed"
    # Held by a lease the script renewed while it ran (docs/ci.md).
    assert host.lease_seconds == 120
    assert host.lease_expires_at > host.created_at + timedelta(seconds=120)


def test_the_ci_script_fails_with_dchwebs_reason(
    live_server,
    celery_worker,
    endpoint,
    registry,
    developer_token,
    devstack,
    tmp_path,
    leftovers,
):
    (tmp_path / "Dockerfile").write_text("FROM scratch\nCOPY missing-file /x\n")
    tag = f"{devstack['registry']}/default-project/ci-{uuid.uuid4().hex[:8]}:1"

    done = run_script(live_server, developer_token, tmp_path, tag, endpoint)

    assert done.returncode == 1
    assert "failed" in done.stderr and "missing-file" in done.stderr
    # A failed build removes its host too.
    assert wait_settled(BuildHost.objects.get()).state == "removed"


def test_a_killed_job_stops_heartbeating_and_the_pass_frees_its_host(
    live_server,
    celery_worker,
    engine,
    endpoint,
    registry,
    developer_token,
    devstack,
    tmp_path,
    leftovers,
):
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    tag = f"{devstack['registry']}/default-project/ci-{uuid.uuid4().hex[:8]}:1"
    job = subprocess.Popen(
        ["sh", str(SCRIPT), str(tmp_path), tag, str(endpoint.pk)],
        env=script_env(
            live_server,
            developer_token,
            DCHWEB_LEASE_SECONDS="30",
            DCHWEB_HEARTBEAT_SECONDS="1",
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        said = job.stderr.readline()
        assert said.startswith("dchweb build host "), said
        host = BuildHost.objects.get(pk=said.split()[3])
        # Its heartbeat runs: the lease moves past the one taken at creation.
        first_lease = host.created_at + timedelta(seconds=30)
        deadline = time.monotonic() + 30
        while host.lease_expires_at <= first_lease:
            assert time.monotonic() < deadline, "the script never heartbeat"
            time.sleep(0.2)
            host.refresh_from_db()
    finally:
        # Killed outright, as a lost agent is: no trap runs, nothing removed.
        job.send_signal(signal.SIGKILL)
        job.wait(timeout=10)
        job.stderr.close()

    # Its heartbeat died with it: a heartbeat interval and more, no renewal.
    time.sleep(2)
    host.refresh_from_db()
    last_lease = host.lease_expires_at
    time.sleep(2)
    host.refresh_from_db()
    assert host.lease_expires_at == last_lease
    assert host.state not in ("removing", "removed")

    # The periodic pass past the lease frees the host, volumes by its policy.
    wait_settled(host)
    assert ops_tasks.reap_lapsed_leases(now=last_lease + timedelta(seconds=1)) == 1
    host = wait_settled(host)
    assert host.state == "removed"
    assert host.steps.filter(name="lease_lapsed").exists()
    assert_nothing_left(engine, host)
