"""Volumes: create and remove them, who mounts one, and how big they are."""

import docker.errors
import requests

from hosts.engine.connections import open_client
from hosts.engine.errors import (
    CLIENT_ERRORS,
    EngineConflict,
    call,
    check_ours,
    classify,
)


def create_volume(connection, name, labels, driver_opts=None):
    """Create a named, labelled volume; an existing one of ours is reused
    (a retried step must not fail on its own earlier work)."""
    with open_client(connection) as client:
        # Creating a volume that exists returns it as it is: one call either way.
        found = call(
            client.api.create_volume,
            name=name,
            driver="vsphere" if driver_opts else None,
            driver_opts=driver_opts or None,
            labels=labels,
        )
    check_ours((found or {}).get("Labels") or {}, labels, f"volume {name}")
    return name


def remove_volume(connection, name):
    """Remove a volume; gone already is done; in use is a conflict."""
    with open_client(connection) as client:
        try:
            client.api.remove_volume(name)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as error:
            if error.status_code == 409:
                raise EngineConflict(f"volume {name} is in use") from error
            raise classify(error) from error
        except CLIENT_ERRORS as e:
            raise classify(e) from e
    return True


def volume_users(connection, name):
    """Names of the containers (running or not) that mount volume `name`."""
    with open_client(connection) as client:
        found = call(client.api.containers, all=True, filters={"volume": name})
    return [(container.get("Names") or ["/"])[0].lstrip("/") for container in found]


def volume_sizes(connection):
    """{volume name: bytes} from one `system df` (volumes only where the API
    has `type`; older engines answer with everything, still one call)."""
    with open_client(connection) as client:
        url = f"{client.api.base_url}/v{client.api.api_version}/system/df"
        try:
            response = client.api.get(url, params={"type": "volume"}, timeout=300)
            response.raise_for_status()
            usage = response.json()
        except (requests.RequestException, ValueError, OSError) as error:
            raise classify(error) from error
    sizes = {}
    for volume in usage.get("Volumes") or []:
        size = (volume.get("UsageData") or {}).get("Size", -1)
        if size is not None and size >= 0:
            sizes[volume["Name"]] = size
    return sizes
