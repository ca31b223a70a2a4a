"""The engine's event stream, as far as the volume ledger cares."""

import dataclasses

import requests

from hosts.engine.connections import open_client
from hosts.engine.errors import classify
from hosts.lib import failures

WATCHED_EVENT_TYPES = ["container", "volume"]
# The volume and container actions that change what the ledger says.
LEDGER_ACTIONS = {"create", "destroy", "mount", "unmount", "prune"}


def watch_events(connection, on_change, idle_seconds=300):
    """Call `on_change(event)` for each container or volume event that can
    change the ledger. Returns when the stream ends or stays silent for
    `idle_seconds`; the caller then resyncs by listing (an engine keeps only
    its last 256 events, so a gap cannot be replayed) and watches again."""
    idle = dataclasses.replace(connection, timeout=idle_seconds)
    with open_client(idle) as client:
        events = client.api.events(decode=True, filters={"type": WATCHED_EVENT_TYPES})
        try:
            for event in events:
                if event.get("Action", "").split(":")[0] in LEDGER_ACTIONS:
                    on_change(event)
        except (requests.exceptions.ConnectionError, OSError) as error:
            if "timed out" not in failures.full_text(error).lower():
                raise classify(error) from error
        finally:
            events.close()
