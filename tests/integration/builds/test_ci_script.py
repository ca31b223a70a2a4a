"""docs/examples/dchweb-build.sh, as a CI job runs it: against a real server,
worker, engine and registry; the digest it prints is the one dchweb pushed."""

import subprocess
import uuid

import pytest

from hosts.models import Build, BuildHost
from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SCRIPT = ROOT / "docs/examples/dchweb-build.sh"


def run_script(live_server, token, context_dir, tag, endpoint):
    return subprocess.run(
        ["sh", str(SCRIPT), str(context_dir), tag, str(endpoint.pk)],
        env={
            "PATH": "/usr/bin:/bin",
            "DCHWEB_URL": live_server.url,
            "DCHWEB_TOKEN": token,
        },
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
    assert BuildHost.objects.get(pk=build.build_host_id).state in (
        "removing",
        "removed",
    )


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
