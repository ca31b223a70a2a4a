"""Inside a build host: what its own engine holds (containers, images, disk
use), read in one `system df`, and trimming it (`docker image prune` and
`docker builder prune`: dangling images and dangling build cache)."""

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime

import docker.utils
import requests

from hosts.engine.connections import open_client
from hosts.engine.errors import call, classify

# Pruning walks every layer of the host's data volume: slower than a read.
TRIM_TIMEOUT_SECONDS = 600
# The engine's build cache API (`/build/prune`) came with API 1.31 (17.07).
BUILD_CACHE_API_VERSION = "1.31"
# What docker lists for an image without a name.
_NO_TAG = "<none>:<none>"


@dataclass(frozen=True)
class ContainerInside:
    id: str
    name: str
    image: str
    state: str  # running, exited, created ...
    status: str  # the engine's own words: "Up 3 minutes", "Exited (0) ..."
    created_at: datetime | None
    size_bytes: int | None  # its writable layer; None: the engine did not say


@dataclass(frozen=True)
class ImageInside:
    id: str
    tags: tuple[str, ...]
    created_at: datetime | None
    size_bytes: int
    shared_bytes: int  # of size_bytes, in layers other images use too
    containers: int | None  # how many containers use it; None: not counted

    @property
    def dangling(self) -> bool:
        return not self.tags


@dataclass(frozen=True)
class DiskUse:
    images_bytes: int
    build_cache_bytes: int
    volumes_bytes: int
    containers_bytes: int
    # What a trim would free of the images (the dangling ones nothing uses).
    dangling_images_bytes: int


@dataclass(frozen=True)
class Inside:
    containers: tuple[ContainerInside, ...]
    images: tuple[ImageInside, ...]
    disk: DiskUse


@dataclass(frozen=True)
class Trimmed:
    images_deleted: int
    images_bytes: int
    build_cache_bytes: int
    build_cache_supported: bool

    @property
    def reclaimed_bytes(self) -> int:
        return self.images_bytes + self.build_cache_bytes


def read_inside(connection) -> Inside:
    """Containers, images and disk use of the engine, from one `system df`
    (the call `docker system df -v` makes)."""
    with open_client(connection) as client:
        usage = _system_df(client, connection.timeout)
    images = tuple(_image(raw) for raw in usage.get("Images") or [])
    return Inside(
        containers=tuple(_container(raw) for raw in usage.get("Containers") or []),
        images=images,
        disk=_disk_use(usage, images),
    )


def trim(connection) -> Trimmed:
    """Prune dangling images, then dangling build cache (where the engine's
    API has it); what each freed, as the engine counts it."""
    slow = dataclasses.replace(connection, timeout=TRIM_TIMEOUT_SECONDS)
    with open_client(slow) as client:
        # The answer lists the layers it deleted beside the images: the
        # images are those of the dangling ones it names.
        dangling = set(
            call(client.api.images, quiet=True, filters={"dangling": True}) or []
        )
        pruned = call(client.api.prune_images, filters={"dangling": True}) or {}
        supported = not docker.utils.version_lt(
            client.api.api_version, BUILD_CACHE_API_VERSION
        )
        cache = (call(client.api.prune_builds) or {}) if supported else {}
    return Trimmed(
        images_deleted=len(
            dangling
            & {entry.get("Deleted") for entry in pruned.get("ImagesDeleted") or []}
        ),
        images_bytes=pruned.get("SpaceReclaimed") or 0,
        build_cache_bytes=cache.get("SpaceReclaimed") or 0,
        build_cache_supported=supported,
    )


def _system_df(client, timeout):
    # docker-py's df() has no timeout of its own: the client's is used.
    url = f"{client.api.base_url}/v{client.api.api_version}/system/df"
    try:
        response = client.api.get(url, timeout=timeout)
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError, OSError) as error:
        raise classify(error) from error


def _container(raw) -> ContainerInside:
    names = raw.get("Names") or ["/"]
    return ContainerInside(
        id=raw.get("Id", ""),
        name=names[0].lstrip("/"),
        image=raw.get("Image", ""),
        state=raw.get("State", ""),
        status=raw.get("Status", ""),
        created_at=_time(raw.get("Created")),
        size_bytes=_size(raw.get("SizeRw")),
    )


def _image(raw) -> ImageInside:
    tags = tuple(tag for tag in raw.get("RepoTags") or [] if tag != _NO_TAG)
    containers = raw.get("Containers")
    return ImageInside(
        id=raw.get("Id", ""),
        tags=tags,
        created_at=_time(raw.get("Created")),
        size_bytes=_size(raw.get("Size")) or 0,
        shared_bytes=_size(raw.get("SharedSize")) or 0,
        containers=containers if containers is not None and containers >= 0 else None,
    )


def _disk_use(usage, images) -> DiskUse:
    volumes = (
        _size((volume.get("UsageData") or {}).get("Size"))
        for volume in usage.get("Volumes") or []
    )
    containers = (_size(raw.get("SizeRw")) for raw in usage.get("Containers") or [])
    cache = (
        _size(record.get("Size"))
        for record in usage.get("BuildCache") or []
        if not record.get("Shared")
    )
    return DiskUse(
        images_bytes=_size(usage.get("LayersSize")) or 0,
        build_cache_bytes=sum(size or 0 for size in cache),
        volumes_bytes=sum(size or 0 for size in volumes),
        containers_bytes=sum(size or 0 for size in containers),
        dangling_images_bytes=sum(
            image.size_bytes - image.shared_bytes
            for image in images
            if image.dangling and not image.containers
        ),
    )


def _size(value) -> int | None:
    """A size the engine reports; -1 (or nothing) means it did not measure."""
    return value if isinstance(value, int) and value >= 0 else None


def _time(value) -> datetime | None:
    if not isinstance(value, int | float) or value <= 0:
        return None
    return datetime.fromtimestamp(value, tz=UTC)
