"""Activity inside a build host's engine: what its users did there since a
time (its events: containers, images, volumes, networks) and what runs there
now. dchweb's own checks (ping, version, info, listings) leave no event, so
whatever this finds is someone's work."""

from dataclasses import dataclass
from datetime import UTC, datetime

from hosts.engine.connections import open_client
from hosts.engine.errors import CLIENT_ERRORS, call, classify


@dataclass(frozen=True)
class Activity:
    last_event_at: datetime | None  # the newest event in the window, if any
    events: int
    running_containers: int

    @property
    def busy_now(self) -> bool:
        return self.running_containers > 0


def read_activity(connection, since: datetime, until: datetime) -> Activity:
    """The engine's events from `since` to `until` (both past or now: with an
    end, the engine answers at once rather than streaming), and how many
    containers run now."""
    with open_client(connection) as client:
        running = call(client.api.containers, filters={"status": "running"}) or []
        newest, count = _events(client, since, until)
    return Activity(last_event_at=newest, events=count, running_containers=len(running))


def _events(client, since, until):
    try:
        stream = client.api.events(
            since=int(since.timestamp()), until=int(until.timestamp()), decode=True
        )
        newest, count = None, 0
        try:
            for event in stream:
                count += 1
                at = _event_time(event)
                if at is not None and (newest is None or at > newest):
                    newest = at
        finally:
            stream.close()
        return newest, count
    except CLIENT_ERRORS as error:
        raise classify(error) from error


def _event_time(event) -> datetime | None:
    nanos = event.get("timeNano")
    if isinstance(nanos, int) and nanos > 0:
        return datetime.fromtimestamp(nanos / 1e9, tz=UTC)
    seconds = event.get("time")
    if isinstance(seconds, int | float) and seconds > 0:
        return datetime.fromtimestamp(seconds, tz=UTC)
    return None
