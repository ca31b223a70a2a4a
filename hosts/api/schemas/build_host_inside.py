"""Inside a build host (GET /build-hosts/{id}/inside) and its trim (POST
/build-hosts/{id}/trim): what its own engine holds, read over mutual TLS."""

from datetime import datetime

from ninja import Field, Schema


class InsideContainerOut(Schema):
    id: str
    name: str
    image: str
    state: str = Field(description="running, exited, created, paused ...")
    status: str = Field(description='the engine\'s words: "Up 3 minutes"')
    created_at: datetime | None
    size_bytes: int | None = Field(description="its writable layer; null: unknown")


class InsideImageOut(Schema):
    id: str
    tags: list[str]
    dangling: bool = Field(description="no tag: what a trim removes if unused")
    created_at: datetime | None
    size_bytes: int
    shared_bytes: int = Field(description="of size_bytes, shared with other images")
    containers: int | None = Field(description="containers using it; null: unknown")


class DiskUseOut(Schema):
    images_bytes: int
    build_cache_bytes: int
    volumes_bytes: int
    containers_bytes: int
    dangling_images_bytes: int = Field(
        description="what a trim would free of the images"
    )


class TrimOut(Schema):
    state: str = Field(description="running, done or failed")
    started_at: datetime
    finished_at: datetime | None
    reclaimed_bytes: int | None = Field(description="once done")
    detail: str = Field(description="what it reclaimed, in words")
    error: str
    reason: str

    @staticmethod
    def resolve_state(step):
        return step.status

    @staticmethod
    def resolve_reclaimed_bytes(step):
        return getattr(step, "reclaimed_bytes", None)


class InsideOut(Schema):
    containers: list[InsideContainerOut]
    images: list[InsideImageOut]
    disk: DiskUseOut
    last_trim: TrimOut | None = Field(description="the latest trim, if any")
