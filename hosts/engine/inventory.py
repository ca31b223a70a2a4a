"""What is on the engine, in two calls whatever the numbers: the objects
labelled as this installation's, and every volume with the containers that
mount it (the volume ledger's view); and, for the events watcher, one
container or volume by inspect and the names of all volumes."""

import datetime
from dataclasses import dataclass

import docker.errors

from hosts.engine.connections import open_client
from hosts.engine.errors import CLIENT_ERRORS, call, classify


@dataclass(frozen=True)
class ManagedObject:
    """A container or volume carrying dchweb's labels, as a listing shows it."""

    kind: str  # "container" or "volume"
    name: str
    labels: dict[str, str]
    created: datetime.datetime | None = None
    state: str = ""  # containers: running, exited, created...
    id: str = ""
    image: str = ""
    port: int | None = None


@dataclass(frozen=True)
class VolumeSeen:
    name: str
    driver: str
    labels: dict[str, str]
    created: datetime.datetime | None
    options: dict[str, str]


@dataclass(frozen=True)
class ContainerSeen:
    name: str
    image: str
    state: str
    volumes: list[str]
    id: str = ""


@dataclass(frozen=True)
class Inventory:
    volumes: list[VolumeSeen]
    containers: list[ContainerSeen]
    calls: int  # engine API calls it took: two, whatever the numbers


def list_managed(connection, installation_id):
    """Containers and volumes labelled as this installation's: two calls,
    whatever the number of objects."""
    labels = _managed_labels(installation_id)
    with open_client(connection) as client:
        containers = call(client.api.containers, all=True, filters={"label": labels})
        volumes = call(client.api.volumes, filters={"label": labels})
    found = [_managed_container(container) for container in containers]
    found += [
        _managed_volume(volume) for volume in (volumes or {}).get("Volumes") or []
    ]
    return found


def list_managed_containers(connection, installation_id):
    """The containers labelled as this installation's, in one call: what a
    cap on build hosts counts (an engine's volume listing reads every
    volume it has, thousands on a busy one)."""
    labels = _managed_labels(installation_id)
    with open_client(connection) as client:
        containers = call(client.api.containers, all=True, filters={"label": labels})
    return [_managed_container(container) for container in containers]


def _managed_labels(installation_id):
    return ["io.dchweb.managed=true", f"io.dchweb.installation={installation_id}"]


def _managed_container(container):
    port = next(
        (
            item.get("PublicPort")
            for item in container.get("Ports") or []
            if item.get("PrivatePort") == 2376 and item.get("PublicPort")
        ),
        None,
    )
    return ManagedObject(
        kind="container",
        id=container["Id"],
        name=_container_name(container),
        labels=container.get("Labels") or {},
        created=_parse_time(container.get("Created")),
        state=container.get("State", ""),
        image=container.get("Image", ""),
        port=port,
    )


def _managed_volume(volume):
    return ManagedObject(
        kind="volume",
        name=volume["Name"],
        labels=volume.get("Labels") or {},
        created=_parse_time(volume.get("CreatedAt")),
    )


def volume_inventory(connection):
    """Every volume and every container (with the volumes it mounts), in two
    calls; the ledger works out who uses what."""
    with open_client(connection) as client:
        volumes = call(client.api.volumes) or {}
        containers = call(client.api.containers, all=True)
    return Inventory(
        volumes=[_volume_seen(volume) for volume in volumes.get("Volumes") or []],
        containers=[_container_seen(container) for container in containers],
        calls=2,
    )


def _volume_seen(volume):
    return VolumeSeen(
        name=volume["Name"],
        driver=volume.get("Driver", ""),
        labels=volume.get("Labels") or {},
        created=_parse_time(volume.get("CreatedAt")),
        options=volume.get("Options") or {},
    )


def _container_seen(container):
    return ContainerSeen(
        name=_container_name(container),
        image=container.get("Image", ""),
        state=container.get("State", ""),
        volumes=_volume_mounts(container),
        id=container.get("Id", ""),
    )


def _volume_mounts(container):
    return [
        mount["Name"]
        for mount in container.get("Mounts") or []
        if mount.get("Type") == "volume" and mount.get("Name")
    ]


# --- One object, on a client the caller keeps open (the events watcher) -----------


def inspect_container(client, container_id):
    """The container with the volumes it mounts, or None once it is gone."""
    found = _inspected(client.api.inspect_container, container_id)
    if found is None:
        return None
    return ContainerSeen(
        name=found.get("Name", "").lstrip("/"),
        image=(found.get("Config") or {}).get("Image", ""),
        state=(found.get("State") or {}).get("Status", ""),
        volumes=_volume_mounts(found),
        id=found.get("Id", container_id),
    )


def inspect_volume(client, name):
    """The volume as a listing shows it, or None once it is gone."""
    found = _inspected(client.api.inspect_volume, name)
    return None if found is None else _volume_seen(found)


def volume_exists(connection, name) -> bool:
    """Whether the engine still has volume `name` (one inspect)."""
    with open_client(connection) as client:
        return _inspected(client.api.inspect_volume, name) is not None


def volume_names(client):
    """The names of every volume on the engine: one call."""
    listed = call(client.api.volumes) or {}
    return frozenset(volume["Name"] for volume in listed.get("Volumes") or [])


def _inspected(function, key):
    try:
        return function(key)
    except docker.errors.NotFound:
        return None
    except CLIENT_ERRORS as error:
        raise classify(error) from error


def _container_name(container):
    return (container.get("Names") or ["/"])[0].lstrip("/")


def _parse_time(value):
    """Engines give container times as epoch seconds, volume times as text."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return datetime.datetime.fromtimestamp(value, datetime.UTC)
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
