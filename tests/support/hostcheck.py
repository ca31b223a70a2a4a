"""Checks on build hosts: their state in the database and their objects on
the engine, which must agree."""

import contextlib
import io
import time
import zipfile
from pathlib import Path

import docker.errors
import pytest

from hosts.buildhosts import commands as buildhosts
from hosts.models import BuildHost
from tests.support.buildhost import wait_until_pinged

SETTLE_TIMEOUT = 180
# A look at one row: cheap, and a host is ready about 2 s after it starts, so
# a coarser poll would add a good part of that to every test that waits.
POLL_SECONDS = 0.1


def engine_objects(engine, host):
    label = f"io.dchweb.build-host={host.pk}"
    containers = engine.containers.list(all=True, filters={"label": label})
    volumes = engine.volumes.list(filters={"label": label})
    return containers, volumes


def remove_installation_objects(engine, installation_id) -> None:
    """Every container and volume labelled with `installation_id`, removed;
    one gone meanwhile (a worker removing it too) is gone."""
    label = f"io.dchweb.installation={installation_id}"
    for container in engine.containers.list(all=True, filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True, v=True)
    for volume in engine.volumes.list(filters={"label": label}):
        with contextlib.suppress(docker.errors.NotFound):
            volume.remove(force=True)


def wait_settled(host, timeout=SETTLE_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        host.refresh_from_db()
        if host.state in (
            BuildHost.State.READY,
            BuildHost.State.FAILED,
            BuildHost.State.REMOVED,
        ):
            return host
        time.sleep(POLL_SECONDS)
    steps = list(host.steps.values_list("name", "status", "error"))
    pytest.fail(f"build host stayed {host.state} for {timeout} s; steps: {steps}")


def new_host(owner, endpoint, **data):
    host, created = buildhosts.create_build_host(
        owner, {"endpoint_id": endpoint.pk, **data}, source="api"
    )
    assert created
    return host


def assert_nothing_left(engine, host):
    containers, volumes = engine_objects(engine, host)
    assert [c.name for c in containers] == [], "a container of the host was left"
    assert [v.name for v in volumes] == [], "a volume of the host was left"


def bundle_dir(host, directory: Path):
    """The owner's bundle as the API serves it, unpacked as docker expects."""
    with zipfile.ZipFile(io.BytesIO(buildhosts.tls_bundle(host))) as bundle:
        assert sorted(bundle.namelist()) == ["ca.pem", "cert.pem", "key.pem"]
        bundle.extractall(directory)
    return directory


def wait_answering(host, cert_dir):
    """The host's /_ping over mutual TLS with its owner's bundle, at the port
    the database has now (a restart may have moved it)."""
    host.refresh_from_db()
    wait_until_pinged(f"https://127.0.0.1:{host.port}", cert_dir)
