"""The engine adapter: the one package that imports `docker`.

It takes plain connection settings, returns plain data and raises only the
exceptions in `errors`, each with a `reason` code and a message written for
the person who has to fix it. Every call has a timeout.

Callers use `from hosts import engine` and `engine.<name>`, never the modules
inside: this list is the adapter's whole surface, and a test that patches
`hosts.engine.<name>` reaches every caller that goes through it. The modules:

    errors       EngineError and its kinds; what docker-py raised, classified
    connections  Connection, a client on the agreed API version, TLS files;
                 one client per engine for a block of calls (reusing_clients)
    probe        what an engine is (flavor, versions, volume stores); ping
    registry     the engine's own login to a registry, and what a registry said
    images       pulling an image
    inside       inside a build host: its containers, images, disk use; trim
    containers   ContainerSpec: create, copy files in, start, stop, status, logs,
                 remove
    activity     inside a build host: its events since a time, what runs now
    volumes      create and remove volumes; who mounts one; their sizes
    inventory    the two-call listings: our labelled objects, the ledger's view;
                 one container or volume by inspect, every volume's name
    builds       build, push and tag on a build host; stopping a build
    events       the container and volume events that change the ledger, with
                 what the ledger needs read at once
"""

from hosts.engine.activity import Activity, read_activity
from hosts.engine.builds import (
    BUILD_TIMEOUT_SECONDS,
    BuildOptions,
    build_image,
    push_image,
    stop_build_containers,
    tag_image,
)
from hosts.engine.connections import (
    DEFAULT_TIMEOUT_SECONDS,
    MINIMUM_API_VERSION,
    Connection,
    _negotiate,
    open_client,
    reusing_clients,
)
from hosts.engine.containers import (
    DIND_OPTIONS,
    TLS_PORT,
    ContainerSpec,
    ContainerStatus,
    container_logs,
    container_status,
    create_container,
    put_files,
    remove_container,
    start_container,
    stop_container,
)
from hosts.engine.errors import (
    EngineConflict,
    EngineError,
    EngineNotFound,
    EngineTLSError,
    EngineUnreachable,
    EngineVersionUnsupported,
    StreamFailed,
    StreamStopped,
    classify,
)
from hosts.engine.events import (
    LEDGER_ACTIONS,
    WATCHED_EVENT_TYPES,
    LedgerEvent,
    watch_events,
)
from hosts.engine.images import PULL_TIMEOUT_SECONDS, _pull_failure, pull_image
from hosts.engine.inside import (
    TRIM_TIMEOUT_SECONDS,
    ContainerInside,
    DiskUse,
    ImageInside,
    Inside,
    Trimmed,
    read_inside,
    trim,
)
from hosts.engine.inventory import (
    ContainerSeen,
    Inventory,
    ManagedObject,
    VolumeSeen,
    list_managed,
    list_managed_containers,
    volume_exists,
    volume_inventory,
)
from hosts.engine.probe import VIC_MARKER, ProbeResult, _vic_volume_stores, ping, probe
from hosts.engine.registry import RegistryLoginResult, registry_login
from hosts.engine.volumes import (
    create_volume,
    remove_volume,
    volume_sizes,
    volume_users,
)

__all__ = [
    "BUILD_TIMEOUT_SECONDS",
    "DEFAULT_TIMEOUT_SECONDS",
    "DIND_OPTIONS",
    "LEDGER_ACTIONS",
    "MINIMUM_API_VERSION",
    "PULL_TIMEOUT_SECONDS",
    "TLS_PORT",
    "TRIM_TIMEOUT_SECONDS",
    "VIC_MARKER",
    "WATCHED_EVENT_TYPES",
    "Activity",
    "BuildOptions",
    "Connection",
    "ContainerInside",
    "ContainerSeen",
    "ContainerSpec",
    "ContainerStatus",
    "DiskUse",
    "EngineConflict",
    "EngineError",
    "EngineNotFound",
    "EngineTLSError",
    "EngineUnreachable",
    "EngineVersionUnsupported",
    "ImageInside",
    "Inside",
    "Inventory",
    "LedgerEvent",
    "ManagedObject",
    "ProbeResult",
    "RegistryLoginResult",
    "StreamFailed",
    "StreamStopped",
    "Trimmed",
    "VolumeSeen",
    # Private, re-exported for the unit tests that pin their rules.
    "_negotiate",
    "_pull_failure",
    "_vic_volume_stores",
    "build_image",
    "classify",
    "container_logs",
    "container_status",
    "create_container",
    "create_volume",
    "list_managed",
    "list_managed_containers",
    "open_client",
    "ping",
    "probe",
    "pull_image",
    "push_image",
    "put_files",
    "read_activity",
    "read_inside",
    "registry_login",
    "remove_container",
    "remove_volume",
    "reusing_clients",
    "start_container",
    "stop_build_containers",
    "stop_container",
    "tag_image",
    "trim",
    "volume_exists",
    "volume_inventory",
    "volume_sizes",
    "volume_users",
    "watch_events",
]
