from datetime import datetime

from ninja import Field, Schema


class BuildHostImageIn(Schema):
    endpoint_id: int = Field(description="where the ephemeral build host runs")
    registry_ids: list[int] = Field(description="registries whose CAs to embed")
    registry_id: int | None = Field(None, description="push target; default the first")
    base_image: str = ""
    name: str = ""
    tag: str = ""


class BuildHostImageOut(Schema):
    id: int
    ref: str
    base_image: str
    digest: str
    state: str
    build_id: str | None
    registry_ids: list[int]
    created_at: datetime

    @staticmethod
    def resolve_build_id(image):
        return str(image.build_id) if image.build_id else None

    @staticmethod
    def resolve_registry_ids(image):
        return [registry.pk for registry in image.registries.all()]
