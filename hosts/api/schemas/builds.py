from datetime import datetime

from ninja import Field, Schema


class BuildOut(Schema):
    id: str
    owner: str
    state: str
    step: str
    build_host_id: str | None
    ephemeral: bool
    volume_policy: str = Field(
        description="of an ephemeral build host: its volumes afterwards; "
        '"cache": its data volume is kept as the owner\'s build cache'
    )
    image_ref: str
    tags: list[str]
    push: bool
    dockerfile: str
    cache_from: list[str]
    target: str
    no_cache: bool
    pull: bool
    labels: dict[str, str]
    image_id: str
    digest: str
    error: str
    error_reason: str
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_id(build):
        return str(build.pk)

    @staticmethod
    def resolve_owner(build):
        return build.owner.get_username()

    @staticmethod
    def resolve_build_host_id(build):
        return str(build.build_host_id) if build.build_host_id else None
