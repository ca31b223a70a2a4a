"""What an engine is: its flavor (VIC or plain Docker), versions and volume
stores, and whether it answers at all."""

import json
from dataclasses import dataclass, field

from hosts.engine.connections import is_agreed, open_client, ping_agreeing
from hosts.engine.errors import call

VIC_MARKER = "vSphere Integrated Containers"


@dataclass(frozen=True)
class ProbeResult:
    flavor: str  # "vic" or "docker"
    name: str
    server_version: str
    api_version: str
    os_type: str
    architecture: str
    operating_system: str
    volume_stores: list[str] = field(default_factory=list)


def probe(connection):
    """Connect, negotiate the API version and describe the engine."""
    with open_client(connection) as client:
        info = call(client.info)
        return ProbeResult(
            flavor="vic" if VIC_MARKER in json.dumps(info) else "docker",
            name=info.get("Name", ""),
            server_version=info.get("ServerVersion", ""),
            api_version=client.api.api_version,
            os_type=info.get("OSType", ""),
            architecture=info.get("Architecture", ""),
            operating_system=info.get("OperatingSystem", ""),
            volume_stores=_vic_volume_stores(info),
        )


def _vic_volume_stores(info):
    """VIC lists its volume stores in SystemStatus as ["VolumeStores", "a b"]."""
    for entry in info.get("SystemStatus") or []:
        if len(entry) == 2 and entry[0].strip() == "VolumeStores":
            return entry[1].split()
    return []


def ping(connection):
    """True when the engine answers /_ping (over the connection's TLS). The
    first ping of an engine agrees its API version too (ping_agreeing): a
    build host being waited for answers in one request, not two."""
    if not is_agreed(connection):
        return ping_agreeing(connection)
    with open_client(connection) as client:
        return bool(call(client.api.ping))
