"""The engine's event stream, as far as the volume ledger cares: each
container or volume event that can change the ledger, with what the ledger
needs to apply it read at once, while the object still exists.

What dockerd 20.10 sends (observed on the devstack engine):
- a container's `create` names its image and name (and labels); its volumes
  are not in it: one inspect reads them (Mounts). Just before it, the engine
  announces every volume the container will use with a volume `create`, the
  anonymous ones and, again, the named ones that exist already;
- a created-never-started container emits no `mount`; a started one emits a
  `mount` per volume (with the container's id), and its `die` is followed by an
  `unmount` per volume. An exited container still has its volumes (the
  engine's own `dangling` filter says so), so only create and destroy change
  which containers use a volume: `die` is not passed on;
- a volume `create` carries only the driver: one inspect reads its labels;
- `volume prune` sends one `prune` and no `destroy` per volume it removed:
  one listing of the names says which are left.
"""

import collections
import dataclasses

from hosts.engine.connections import open_client
from hosts.engine.errors import CLIENT_ERRORS, call, classify
from hosts.engine.inventory import (
    ContainerSeen,
    VolumeSeen,
    inspect_container,
    inspect_volume,
    volume_names,
)
from hosts.lib import failures

WATCHED_EVENT_TYPES = ["container", "volume"]
CONTAINER_ACTIONS = {"create", "destroy"}
VOLUME_ACTIONS = {"create", "destroy", "mount", "unmount", "prune"}
# The volume and container actions that change what the ledger says.
LEDGER_ACTIONS = CONTAINER_ACTIONS | VOLUME_ACTIONS
# Volumes announced since the last container create; a container has a few.
ANNOUNCED_LIMIT = 64


@dataclasses.dataclass(frozen=True)
class LedgerEvent:
    """One event the ledger applies, with what was read for it."""

    kind: str  # "container" or "volume"
    action: str  # create, destroy, mount, unmount, prune
    name: str = ""  # the volume's name, or the container's
    container_id: str = ""  # container events; a volume's mount and unmount
    image: str = ""  # container events
    # Container create: the container with its volumes. When it was gone
    # before it could be inspected, its volumes are the ones the engine
    # announced just before it (`volumes_announced`).
    container: ContainerSeen | None = None
    volumes_announced: bool = False
    volume: VolumeSeen | None = None  # volume create: None when gone already
    remaining: frozenset[str] | None = None  # prune: every volume left
    engine_calls: int = 0  # calls made to read it (the stream's not counted)


def watch_events(connection, on_event, on_subscribed=None, idle_seconds=300):
    """Call `on_event(LedgerEvent)` for each container or volume event that
    can change the ledger, in the engine's order. `on_subscribed()` is called
    once the engine has subscribed this stream and before any event is read:
    a listing made after it misses nothing that follows. Returns when the
    stream ends or stays silent for `idle_seconds`; the caller then resyncs by
    listing (an engine keeps only its last 256 events, so a gap cannot be
    replayed) and watches again."""
    idle = dataclasses.replace(connection, timeout=idle_seconds)
    # Two clients: the stream holds one connection; the inspects use the
    # other, kept open, so that a container is read as soon as possible,
    # before its creator can remove it (a new client a call costs more).
    with open_client(idle) as client, open_client(connection) as reader_client:
        events = call(
            client.api.events, decode=True, filters={"type": WATCHED_EVENT_TYPES}
        )
        try:
            if on_subscribed is not None:
                on_subscribed()
            reader = _Reader(reader_client)
            for raw in events:
                event = reader.read(raw)
                if event is not None:
                    on_event(event)
        except CLIENT_ERRORS as error:
            # A connection cut mid-chunk is a ChunkedEncodingError, not a
            # ConnectionError: whatever ended the stream, the caller resyncs.
            if "timed out" not in failures.full_text(error).lower():
                raise classify(error) from error
        finally:
            events.close()


class _Reader:
    """Turns the engine's raw events into LedgerEvents, reading at once what
    the event does not say."""

    def __init__(self, client):
        self.client = client
        self.announced = collections.deque(maxlen=ANNOUNCED_LIMIT)

    def read(self, raw):
        action = raw.get("Action", "").split(":")[0]
        actor = raw.get("Actor") or {}
        key, attributes = actor.get("ID", ""), actor.get("Attributes") or {}
        if raw.get("Type") == "volume" and action in VOLUME_ACTIONS:
            return self._volume(action, key, attributes)
        if raw.get("Type") == "container" and action in CONTAINER_ACTIONS:
            return self._container(action, key, attributes)
        return None

    def _volume(self, action, name, attributes):
        if action == "create":
            self.announced.append(name)
            seen = inspect_volume(self.client, name)
            return LedgerEvent("volume", action, name, volume=seen, engine_calls=1)
        if action == "prune":
            left = volume_names(self.client)
            return LedgerEvent("volume", action, remaining=left, engine_calls=1)
        return LedgerEvent(
            "volume", action, name, container_id=attributes.get("container", "")
        )

    def _container(self, action, container_id, attributes):
        name, image = attributes.get("name", ""), attributes.get("image", "")
        if action != "create":
            return LedgerEvent("container", action, name, container_id, image)
        announced = list(self.announced)
        self.announced.clear()
        seen = inspect_container(self.client, container_id)
        if seen is None:  # removed already: what the engine announced for it
            seen = ContainerSeen(name, image, "removed", announced, container_id)
        return LedgerEvent(
            "container",
            action,
            name,
            container_id,
            image,
            container=seen,
            volumes_announced=seen.state == "removed",
            engine_calls=1,
        )
