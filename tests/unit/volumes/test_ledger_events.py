"""The events watcher's apply side and the engine's event reader, without an
engine: events made by hand (as hosts/engine/events.py makes them from what
dockerd 20.10 sends) applied to real ledger rows; the reader given a client
that answers as an engine does. The same changes seen by a rescan leave the
rows as the events did: the ledger's rules have one home."""

import threading
from unittest import mock

import docker.errors
import pytest

from hosts import engine
from hosts.engine import events as engine_events
from hosts.models import Volume
from hosts.volumes import ledger, watcher

pytestmark = pytest.mark.django_db

IMAGE = "registry.test:5443/default-project/dch-photon:20.10"
ANONYMOUS = ["a" * 64, "b" * 64]
MANAGED = {"io.dchweb.managed": "true", "io.dchweb.owner": "alice"}


def volume_seen(name, **labels):
    return engine.VolumeSeen(
        name=name, driver="local", labels=labels, created=None, options={}
    )


def container(name, volumes, container_id=None, state="created"):
    return engine.ContainerSeen(name, IMAGE, state, volumes, container_id or name)


def volume_created(name, **labels):
    return engine.LedgerEvent(
        "volume", "create", name, volume=volume_seen(name, **labels)
    )


def container_created(seen, announced=False):
    return engine.LedgerEvent(
        "container",
        "create",
        seen.name,
        seen.id,
        IMAGE,
        container=seen,
        volumes_announced=announced,
    )


def container_removed(seen):
    return engine.LedgerEvent("container", "destroy", seen.name, seen.id, IMAGE)


@pytest.fixture
def applier(endpoint):
    """A watcher's apply side after a first rescan of an empty engine."""
    applying = watcher.EndpointWatcher(endpoint.pk, threading.Event())
    empty = engine.Inventory(volumes=[], containers=[], calls=2)
    with mock.patch.object(engine, "volume_inventory", return_value=empty):
        applying.rescan()
    return applying


def rows(endpoint):
    return {row.name: row for row in Volume.objects.filter(endpoint=endpoint)}


def test_a_container_gone_before_its_inspect_leaves_its_name_on_its_volumes(
    applier, endpoint
):
    for name in ANONYMOUS:
        applier.apply(volume_created(name))
    applier.apply(volume_created("cache", **MANAGED))
    gone = container("by-hand", [*ANONYMOUS, "cache"], state="removed")

    applier.apply(container_created(gone, announced=True))
    assert {row.status for row in rows(endpoint).values()} == {"in_use"}
    applier.apply(container_removed(gone))

    found = rows(endpoint)
    for row in found.values():
        assert (row.last_container, row.last_image) == ("by-hand", IMAGE)
        assert row.attached_to == [] and row.detached_since is not None
    assert [found[name].status for name in ANONYMOUS] == ["dangling", "dangling"]
    assert found["cache"].status == "orphaned", "dchweb's, by its labels"
    assert all(found[name].anonymous for name in ANONYMOUS)


def test_a_volume_shared_by_two_containers_stays_in_use_until_both_are_gone(
    applier, endpoint
):
    applier.apply(volume_created("shared"))
    older, newer = container("older", ["shared"]), container("newer", ["shared"])
    applier.apply(container_created(older))
    applier.apply(container_created(newer))
    assert rows(endpoint)["shared"].attached_to == ["newer", "older"]

    applier.apply(container_removed(newer))
    row = rows(endpoint)["shared"]
    assert (row.status, row.attached_to, row.last_container) == (
        "in_use",
        ["older"],
        "older",
    )
    applier.apply(container_removed(older))
    assert rows(endpoint)["shared"].status == "dangling"


def test_a_volume_announced_again_keeps_its_users(applier, endpoint):
    applier.apply(volume_created("named"))
    applier.apply(container_created(container("user", ["named"])))

    applier.apply(volume_created("named"))  # a second container is about to use it

    assert rows(endpoint)["named"].attached_to == ["user"]


def test_a_mount_the_announced_volumes_missed_is_applied(applier, endpoint):
    applier.apply(volume_created("late"))
    guessed = container("runner", [], state="removed")
    applier.apply(container_created(guessed, announced=True))

    applier.apply(engine.LedgerEvent("volume", "mount", "late", container_id="runner"))

    assert rows(endpoint)["late"].attached_to == ["runner"]
    assert applier.known.get("runner").volumes == ["late"]


def test_a_removal_rescans_only_when_the_watcher_forgot_containers(applier, endpoint):
    applier.known.limit = 1
    first, second = container("first", []), container("second", [])
    applier.apply(container_created(first))
    stranger = container("before-the-listing", [])
    with mock.patch.object(watcher.ledger, "refresh") as refresh:
        applier.apply(container_removed(stranger))
        assert refresh.call_count == 0, "removed before the listing showed it"
        applier.apply(container_created(second))  # `first` is forgotten
        applier.apply(container_removed(first))
    assert refresh.call_count == 1


def test_a_prune_takes_out_what_the_engine_no_longer_lists(applier, endpoint):
    for name in ("kept", "pruned"):
        applier.apply(volume_created(name))

    applier.apply(engine.LedgerEvent("volume", "prune", remaining=frozenset({"kept"})))

    assert {name: row.present for name, row in rows(endpoint).items()} == {
        "kept": True,
        "pruned": False,
    }


def test_a_rescan_of_the_same_engine_changes_nothing_the_events_wrote(
    applier, endpoint
):
    applier.apply(volume_created("data", **MANAGED))
    applier.apply(volume_created("loose"))
    applier.apply(volume_created(ANONYMOUS[0]))
    user = container("web", ["data", ANONYMOUS[0]])
    applier.apply(container_created(user))
    before = {name: ledger._state(row) for name, row in rows(endpoint).items()}
    listing = engine.Inventory(
        volumes=[
            volume_seen("data", **MANAGED),
            volume_seen("loose"),
            volume_seen(ANONYMOUS[0]),
        ],
        containers=[user],
        calls=2,
    )

    with mock.patch.object(engine, "volume_inventory", return_value=listing):
        ledger.refresh(endpoint)

    after = {name: ledger._state(row) for name, row in rows(endpoint).items()}
    assert after == before


def test_each_applied_event_shows_in_the_cached_totals_at_once(applier, endpoint):
    def totals():
        found = ledger.totals(ledger.VolumeFilters(endpoint_id=endpoint.pk))
        return found["count"], found["reclaimable_count"]

    assert totals() == totals() == (0, 0)  # the second from the cache
    applier.apply(volume_created("fresh"))
    assert totals() == (1, 1)
    user = container("user", ["fresh"])
    applier.apply(container_created(user))
    assert totals() == (1, 0)
    applier.apply(container_removed(user))
    assert totals() == (1, 1)
    applier.apply(engine.LedgerEvent("volume", "destroy", "fresh"))
    assert totals() == (0, 0)


# --- The reader: what it reads for an event ---------------------------------------


class FakeEngine:
    """Answers inspects as an engine does; a removed object is a 404."""

    def __init__(self, containers=(), volumes=()):
        self.containers_by_id = {found["Id"]: found for found in containers}
        self.volumes_by_name = {found["Name"]: found for found in volumes}
        self.api = self  # docker-py's low-level calls are on client.api

    def inspect_container(self, container_id):
        return self._found(self.containers_by_id, container_id)

    def inspect_volume(self, name):
        return self._found(self.volumes_by_name, name)

    @staticmethod
    def _found(objects, key):
        if key not in objects:
            raise docker.errors.NotFound(f"no such object: {key}")
        return objects[key]


def raw(kind, action, key, **attributes):
    return {
        "Type": kind,
        "Action": action,
        "Actor": {"ID": key, "Attributes": attributes},
    }


def test_a_container_removed_before_its_inspect_gets_the_volumes_announced_for_it():
    reader = engine_events._Reader(
        FakeEngine(volumes=[{"Name": name, "Driver": "local"} for name in ANONYMOUS])
    )
    for name in ANONYMOUS:
        assert reader.read(raw("volume", "create", name)).volume.name == name

    event = reader.read(raw("container", "create", "c1", name="quick", image=IMAGE))

    assert event.volumes_announced
    assert (event.container.name, event.container.image) == ("quick", IMAGE)
    assert event.container.volumes == ANONYMOUS
    assert event.engine_calls == 1


def test_a_container_inspected_in_time_gets_its_own_mounts_and_not_the_announced():
    inspected = {
        "Id": "c2",
        "Name": "/slow",
        "Config": {"Image": IMAGE},
        "State": {"Status": "created"},
        "Mounts": [
            {"Type": "volume", "Name": "mine"},
            {"Type": "bind", "Source": "/etc"},
        ],
    }
    reader = engine_events._Reader(FakeEngine(containers=[inspected]))
    reader.read(raw("volume", "create", "someone-elses"))

    event = reader.read(raw("container", "create", "c2", name="slow", image=IMAGE))

    assert not event.volumes_announced
    assert event.container.volumes == ["mine"]
    # The next container's announced volumes start afresh.
    assert list(reader.announced) == []


def test_die_and_other_actions_are_not_passed_on():
    reader = engine_events._Reader(FakeEngine())
    for action in ("die", "start", "stop", "exec_start: sh"):
        assert reader.read(raw("container", action, "c3", name="x")) is None
