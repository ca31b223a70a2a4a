from datetime import datetime
from uuid import UUID

from ninja import Field, Schema


class PushedImageOut(Schema):
    id: int
    reference: str = Field(description="registry/project/name:tag, as pushed")
    repository: str = Field(description="project/name at the registry")
    digest: str = Field(description="the manifest's digest, sha256:…")
    size_bytes: int | None = Field(
        description="config and layers as the registry stores them (compressed); "
        "null when the registry did not say"
    )
    owner: str
    build_id: UUID | None = Field(description="the build that pushed it")
    registry_id: int | None
    pushed_at: datetime
    deleted_at: datetime | None = Field(
        description="when its manifest was deleted at the registry; null: present"
    )
    deleted_by: str | None

    @staticmethod
    def resolve_owner(image) -> str:
        return image.owner.get_username()

    @staticmethod
    def resolve_deleted_by(image) -> str | None:
        return image.deleted_by.get_username() if image.deleted_by else None
