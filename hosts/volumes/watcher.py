"""Keeps the volume ledger current from the engines' own events.

One thread per endpoint follows its `/events` stream (containers and volumes);
any event that can change what the ledger says marks the endpoint dirty, and
a second thread rescans it (two engine calls) at most once a second. Every
(re)connection starts with a rescan: an engine keeps only its last 256
events, so what happened while nobody listened is found by listing.
"""

import logging
import threading

from django.db import close_old_connections

from hosts import engine
from hosts.core.connections import connection_for
from hosts.models import Endpoint
from hosts.volumes import ledger

logger = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 1.0
RETRY_SECONDS = 5.0


class EndpointWatcher:
    def __init__(self, endpoint_id, stop: threading.Event):
        self.endpoint_id = endpoint_id
        self.stop = stop
        self.dirty = threading.Event()

    def start(self):
        for target in (self._follow, self._rescan_when_dirty):
            threading.Thread(target=target, daemon=True).start()
        return self

    def _follow(self):
        while not self.stop.is_set():
            try:
                endpoint = Endpoint.objects.get(pk=self.endpoint_id)
                self.dirty.set()  # resync first: events may have been missed
                engine.watch_events(connection_for(endpoint), self._changed)
            except Endpoint.DoesNotExist:
                return
            except engine.EngineError as error:
                logger.warning("events of endpoint %s: %s", self.endpoint_id, error)
                self.stop.wait(RETRY_SECONDS)
            finally:
                close_old_connections()

    def _changed(self, event):
        self.dirty.set()

    def _rescan_when_dirty(self):
        while not self.stop.is_set():
            if not self.dirty.wait(timeout=1.0):
                continue
            self.stop.wait(DEBOUNCE_SECONDS)  # gather a burst into one rescan
            self.dirty.clear()
            try:
                endpoint = Endpoint.objects.get(pk=self.endpoint_id)
                result = ledger.refresh(endpoint)
                if result.error:
                    logger.warning("rescan of %s: %s", endpoint.name, result.error)
            except Endpoint.DoesNotExist:
                return
            finally:
                close_old_connections()


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
