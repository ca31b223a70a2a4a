"""The events watcher applies each container and volume event of the devstack
engine to the ledger itself: a rescan (the full listing) only when it
subscribes, never for a change. The watcher runs in the test's process, so
that every rescan it makes is counted."""

import contextlib
import threading
import uuid
from unittest import mock

import docker.errors
import pytest

from hosts.models import Volume
from hosts.volumes import ledger, watcher
from tests.support import world
from tests.support.proxy import SocketProxy
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MANAGED = {"io.dchweb.managed": "true", "io.dchweb.owner": "alice"}


@pytest.fixture
def rescans():
    """Every ledger.refresh the watcher finished, with its result."""
    done = []
    real_refresh = ledger.refresh

    def counted(endpoint):
        result = real_refresh(endpoint)
        done.append(result)
        return result

    with mock.patch.object(watcher.ledger, "refresh", side_effect=counted):
        yield done


def start_watcher(endpoint, rescans):
    """The endpoint's watcher, once its first rescan is done; stopped after."""
    stop = threading.Event()
    started = watcher.EndpointWatcher(endpoint.pk, stop).start()
    wait_until(lambda: rescans, "the watcher's first rescan", timeout=60)
    assert rescans[0].error == ""
    return started, stop


@pytest.fixture
def watching(endpoint, rescans):
    started, stop = start_watcher(endpoint, rescans)
    yield started
    stop.set()


@pytest.fixture
def made(engine):
    """What a test makes on the engine by hand; removed afterwards."""
    things = {"containers": [], "volumes": []}
    yield things
    for container_id in things["containers"]:
        with contextlib.suppress(docker.errors.NotFound):
            engine.api.remove_container(container_id, force=True)
    for name in things["volumes"]:
        with contextlib.suppress(docker.errors.NotFound):
            engine.api.remove_volume(name, force=True)


def row_when(endpoint, name, what, **expected):
    def matches():
        row = Volume.objects.filter(endpoint=endpoint, name=name).first()
        if row and all(getattr(row, key) == value for key, value in expected.items()):
            return row
        return None

    return wait_until(matches, f"{name} {what}: {expected}", timeout=30)


def test_a_container_created_and_removed_at_once_leaves_its_name_and_image(
    watching, rescans, endpoint, engine, build_host_image, devstack, made
):
    name = f"brief-{uuid.uuid4().hex[:8]}"
    # The build-host image has two VOLUME lines: two anonymous volumes.
    created = engine.api.create_container(
        build_host_image,
        name=name,
        host_config=engine.api.create_host_config(network_mode=devstack["network"]),
    )
    engine.api.remove_container(created["Id"])  # at once, without v=True
    made["containers"].append(created["Id"])

    def provenance():
        rows = list(Volume.objects.filter(endpoint=endpoint, last_container=name))
        made["volumes"].extend(row.name for row in rows)
        detached = [row for row in rows if row.status == Volume.Status.DANGLING]
        return rows if len(detached) == 2 else None

    rows = wait_until(provenance, "two volumes that name their container", 30)
    for row in rows:
        assert row.anonymous and row.present and row.attached_to == []
        assert row.last_image == build_host_image
        assert row.detached_since is not None
    on_engine = engine.api.volumes(filters={"dangling": True})["Volumes"] or []
    assert {row.name for row in rows} <= {volume["Name"] for volume in on_engine}
    assert len(rescans) == 1, "a change is applied, not rescanned"


def test_a_volume_created_and_removed_shows_and_goes_without_a_rescan(
    watching, rescans, endpoint, engine, made
):
    name = f"events-{uuid.uuid4().hex[:8]}"
    engine.api.create_volume(name, labels=MANAGED)
    made["volumes"].append(name)

    row = row_when(endpoint, name, "shows", present=True)
    assert (row.status, row.managed, row.owner_name) == ("orphaned", True, "alice")

    engine.api.remove_volume(name)
    row_when(endpoint, name, "goes", present=False)
    assert len(rescans) == 1


def test_a_volume_is_in_use_from_its_container_s_creation_to_its_removal(
    watching, rescans, endpoint, engine, build_host_image, devstack, made
):
    volume = f"used-{uuid.uuid4().hex[:8]}"
    engine.api.create_volume(volume, labels=MANAGED)
    made["volumes"].append(volume)
    user = engine.containers.run(
        build_host_image,
        entrypoint=["sleep", "600"],
        detach=True,
        network=devstack["network"],
        volumes={volume: {"bind": "/data", "mode": "rw"}},
    )
    made["containers"].append(user.id)
    row = row_when(endpoint, volume, "is mounted", status="in_use")
    assert row.attached_to == [user.name] and row.last_attached is not None

    user.kill()  # die, then unmount: the stopped container still has it
    user.wait()
    row_when(endpoint, volume, "stays in use", status="in_use")
    dangling = engine.api.volumes(filters={"dangling": True})["Volumes"] or []
    assert volume not in {found["Name"] for found in dangling}, "the engine agrees"

    user.remove()
    row = row_when(endpoint, volume, "is left", status="orphaned")
    assert (row.attached_to, row.last_container) == ([], user.name)
    assert row.last_image == build_host_image and row.detached_since is not None
    assert len(rescans) == 1


def test_a_prune_takes_the_volumes_it_removed_out_without_a_rescan(
    watching, rescans, endpoint, engine, made
):
    tag = uuid.uuid4().hex[:8]
    names = [f"pruned-{tag}-{number}" for number in range(2)]
    for name in names:
        engine.api.create_volume(name, labels={"io.dchweb.test-prune": tag})
        made["volumes"].append(name)
        row_when(endpoint, name, "shows", present=True)

    engine.api.prune_volumes(filters={"label": f"io.dchweb.test-prune={tag}"})

    for name in names:
        row_when(endpoint, name, "goes", present=False)
    assert len(rescans) == 1


def test_a_reconnection_rescans_and_finds_what_changed_meanwhile(
    devstack, rescans, engine, made, caplog
):
    proxy = SocketProxy(devstack["docker_url"].removeprefix("unix://")).start()
    endpoint = world.devstack_endpoint(devstack, name="proxied", docker_url=proxy.url)
    with mock.patch.object(watcher, "RETRY_SECONDS", 0.2):
        _, stop = start_watcher(endpoint, rescans)
        try:
            proxy.stop()  # the stream is cut; the engine cannot be reached
            name = f"meanwhile-{uuid.uuid4().hex[:8]}"
            engine.api.create_volume(name)
            made["volumes"].append(name)
            wait_until(
                lambda: any(
                    "events of endpoint" in record.getMessage()
                    for record in caplog.records
                ),
                "a reconnection refused while the engine is out of reach",
            )
            proxy.start()  # the same port again

            wait_until(lambda: len(rescans) >= 2, "a rescan after the reconnection")
            row_when(endpoint, name, "shows", present=True)
        finally:
            stop.set()
            proxy.stop()
