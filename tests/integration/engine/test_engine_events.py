"""The ledger follows the engine's own events: a volume made, used, left and
removed by hand shows up in the ledger without anyone asking for a rescan."""

import os
import subprocess
import sys
import time
import uuid

import pytest

from hosts.models import Volume
from tests.conftest import LOG_DIR, ROOT, stop_process, subprocess_database_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def watcher(endpoint):
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, **subprocess_database_env())
    with (LOG_DIR / "watch-engines.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "watch_engines", "--poll", "1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    yield process
    stop_process(process)


def ledger_says(endpoint, name, timeout=30, **expected):
    deadline = time.monotonic() + timeout
    row = None
    while time.monotonic() < deadline:
        row = Volume.objects.filter(endpoint=endpoint, name=name).first()
        if row and all(getattr(row, key) == value for key, value in expected.items()):
            return row
        time.sleep(0.2)
    pytest.fail(f"the ledger never said {expected} of {name}: {row and vars(row)}")


def test_the_ledger_follows_volume_and_container_events(
    watcher, endpoint, engine, build_host_image, devstack
):
    name = f"events-{uuid.uuid4().hex[:8]}"
    volume = engine.volumes.create(name)
    try:
        ledger_says(endpoint, name, present=True, status="dangling")
        user = engine.containers.create(
            build_host_image,
            entrypoint=["true"],
            network=devstack["network"],
            volumes={name: {"bind": "/data", "mode": "rw"}},
        )
        ledger_says(endpoint, name, status="in_use")
        user.remove()
        row = ledger_says(endpoint, name, status="dangling")
        assert row.last_container == user.name
    finally:
        volume.remove(force=True)
    ledger_says(endpoint, name, present=False)
