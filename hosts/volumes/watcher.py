"""Keeps the volume ledger current from the engines' own events.

Two threads per endpoint:
- the follow thread reads the engine's `/events` (hosts/engine/events.py),
  which reads at once what an event leaves out (one inspect of a new
  container or volume, while it still exists), and queues each event;
- the apply thread applies them in the engine's order to the rows they touch
  (ledger.note_*), without listing anything.

A rescan (the full listing, ledger.refresh) runs when the stream is
(re)subscribed: an engine keeps only its last 256 events, so what happened
while nobody listened is found by listing. It is queued ahead of every event
of that stream, so the events that follow the listing are applied after it
(one applied twice does no harm). It also runs when the watcher has forgotten
a removed container's volumes (it remembers a bounded number of containers).
The refresh_volumes task rescans periodically besides.
"""

import collections
import dataclasses
import logging
import queue
import threading

from django.db import close_old_connections

from hosts import engine
from hosts.core.connections import connection_for
from hosts.models import Endpoint
from hosts.volumes import ledger

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0
# Containers remembered for their volumes: a removal names none.
REMEMBERED_CONTAINERS = 10_000
_RESCAN = object()  # queued ahead of a new stream's events


class _Stopped(Exception):
    pass


class KnownContainers:
    """The containers the watcher has seen, by id, with the volumes they use:
    at most `limit`, the oldest forgotten first. `forgot` says whether one
    was forgotten since the last listing."""

    def __init__(self, limit=REMEMBERED_CONTAINERS):
        self.limit = limit
        self.by_id = collections.OrderedDict()
        self.image_by_name = {}
        self.forgot = False

    def replace(self, containers):
        self.by_id.clear()
        self.image_by_name.clear()
        self.forgot = False
        for container in containers:
            self.add(container)

    def add(self, container):
        self.by_id[container.id] = container
        self.by_id.move_to_end(container.id)
        self.image_by_name[container.name] = container.image
        if len(self.by_id) > self.limit:
            self._drop(self.by_id.popitem(last=False)[1])
            self.forgot = True

    def get(self, container_id):
        return self.by_id.get(container_id)

    def pop(self, container_id):
        container = self.by_id.pop(container_id, None)
        if container is not None:
            self._drop(container)
        return container

    def _drop(self, container):
        if self.image_by_name.get(container.name) == container.image:
            del self.image_by_name[container.name]


class EndpointWatcher:
    def __init__(self, endpoint_id, stop: threading.Event):
        self.endpoint_id = endpoint_id
        self.stop = stop
        self.events = queue.Queue()
        self.known = KnownContainers()
        self.endpoint = None  # the apply thread's, read again at each rescan
        self.endpoint_gone = threading.Event()

    def start(self):
        for role, target in (("follow", self._follow), ("apply", self._apply_all)):
            name = f"ledger-{role}-{self.endpoint_id}"
            threading.Thread(target=target, name=name, daemon=True).start()
        return self

    # --- The follow thread ------------------------------------------------------

    def _follow(self):
        while not self.stop.is_set():
            try:
                connection = connection_for(Endpoint.objects.get(pk=self.endpoint_id))
            except Endpoint.DoesNotExist:
                return
            finally:
                close_old_connections()  # a stream may stay open for minutes
            try:
                engine.watch_events(
                    connection,
                    self._queue,
                    on_subscribed=lambda: self.events.put(_RESCAN),
                )
            except _Stopped:
                return
            except engine.EngineError as error:
                logger.warning("events of endpoint %s: %s", self.endpoint_id, error)
                self.stop.wait(RETRY_SECONDS)
            except Exception:  # a bug must not end the following for good
                logger.exception("events of endpoint %s", self.endpoint_id)
                self.stop.wait(RETRY_SECONDS)

    def _queue(self, event):
        if self.stop.is_set() or self.endpoint_gone.is_set():
            raise _Stopped  # ends the stream: nobody applies events any more
        self.events.put(event)

    # --- The apply thread -------------------------------------------------------

    def _apply_all(self):
        while not self.stop.is_set():
            try:
                item = self.events.get(timeout=1.0)
            except queue.Empty:
                continue
            try:
                if item is _RESCAN or self.endpoint is None:
                    self.rescan()
                if item is not _RESCAN:
                    self.apply(item)
            except Endpoint.DoesNotExist:
                self.endpoint_gone.set()
                return
            except Exception:  # a database that does not answer, or a bug
                # Whatever was not written is found by listing, once it can be:
                # the thread goes on following the engine.
                logger.exception("ledger of endpoint %s", self.endpoint_id)
                self.stop.wait(RETRY_SECONDS)
                self.events.put(_RESCAN)
            finally:
                close_old_connections()

    def rescan(self):
        self.endpoint = Endpoint.objects.get(pk=self.endpoint_id)
        result = ledger.refresh(self.endpoint)
        if result.error:  # the stream fails too, and its reconnection rescans
            logger.warning("rescan of %s: %s", self.endpoint.name, result.error)
            return
        self.known.replace(result.containers)

    def apply(self, event):
        """Apply one engine event (a LedgerEvent) to the ledger."""
        getattr(self, f"_{event.kind}_{event.action}")(event)

    def _volume_create(self, event):
        if event.volume is not None:  # gone already: its destroy follows
            ledger.note_volume_created(self.endpoint, event.volume)

    def _volume_destroy(self, event):
        ledger.note_volume_removed(self.endpoint, event.name)

    def _volume_prune(self, event):
        ledger.note_volumes_left(self.endpoint, event.remaining)

    def _volume_mount(self, event):
        container = self.known.get(event.container_id)
        if container is None:  # forgotten: only a listing knows its volumes
            self.rescan()
            return
        if event.name not in container.volumes:  # announced volumes were a guess
            self.known.add(
                dataclasses.replace(container, volumes=[*container.volumes, event.name])
            )
            mounted = dataclasses.replace(container, volumes=[event.name])
            ledger.note_container_created(self.endpoint, mounted)
        ledger.note_attached_now(self.endpoint, event.name)

    def _volume_unmount(self, event):
        # The container keeps its volumes until it is removed (the engine's
        # `dangling` filter agrees): they stay in use.
        ledger.note_attached_now(self.endpoint, event.name)

    def _container_create(self, event):
        self.known.add(event.container)
        ledger.note_container_created(self.endpoint, event.container)

    def _container_destroy(self, event):
        container = self.known.pop(event.container_id)
        if container is not None:
            ledger.note_container_removed(
                self.endpoint, container, self.known.image_by_name
            )
        elif self.known.forgot:
            self.rescan()
        # Otherwise it was removed before the last listing, which showed that.


def watch_all(stop: threading.Event, poll_seconds=60.0):
    """Watch every enabled endpoint; endpoints added later join within a poll."""
    watched = {}
    while not stop.is_set():
        enabled = set(Endpoint.objects.enabled().values_list("pk", flat=True))
        for endpoint_id in enabled - watched.keys():
            watched[endpoint_id] = EndpointWatcher(endpoint_id, stop).start()
            logger.info("watching the events of endpoint %s", endpoint_id)
        close_old_connections()
        stop.wait(poll_seconds)
