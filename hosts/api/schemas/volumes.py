from datetime import datetime

from ninja import Field, Schema

from hosts.api.schemas.common import RowId
from hosts.volumes.plans import MAX_OLDER_THAN_DAYS


class VolumeOut(Schema):
    endpoint_id: int
    endpoint: str
    name: str
    status: str
    managed: bool
    anonymous: bool
    owner: str
    build_host_id: str | None
    role: str
    attached_to: list[str]
    last_container: str
    last_image: str
    size_bytes: int | None
    size_measured_at: datetime | None
    created_on_engine: datetime | None
    first_seen: datetime
    last_seen: datetime
    last_attached: datetime | None
    detached_since: datetime | None

    @staticmethod
    def resolve_endpoint(volume):
        return volume.endpoint.name

    @staticmethod
    def resolve_owner(volume):
        return volume.owner_name

    @staticmethod
    def resolve_build_host_id(volume):
        return str(volume.build_host_id) if volume.build_host_id else None


class VolumeTotalOut(Schema):
    key: str
    volumes: int
    bytes: int | None


class VolumePage(Schema):
    count: int
    limit: int
    offset: int
    reclaimable_bytes: int
    by_owner: list[VolumeTotalOut]
    by_endpoint: list[VolumeTotalOut]
    items: list[VolumeOut]


class CleanupPlanIn(Schema):
    endpoint_id: RowId | None = None
    volume_names: list[str] | None = Field(
        None,
        description="named one by one: the only way to include volumes "
        "that are not dchweb's",
    )
    status: str = Field("", description="orphaned (default for a rule) or dangling")
    older_than_days: int | None = Field(None, ge=0, le=MAX_OLDER_THAN_DAYS)
    owner: str = ""


class CleanupItemOut(Schema):
    endpoint_id: int
    volume_name: str
    reason: str
    size_bytes: int | None
    result: str
    detail: str


class CleanupPlanOut(Schema):
    id: int
    state: str
    rule: dict
    total_bytes: int
    reclaimed_bytes: int
    planned_by: str
    approved_by: str
    created_at: datetime
    executed_at: datetime | None
    finished_at: datetime | None
    items: list[CleanupItemOut]

    @staticmethod
    def resolve_planned_by(plan):
        return plan.planned_by.get_username() if plan.planned_by else ""

    @staticmethod
    def resolve_approved_by(plan):
        return plan.approved_by.get_username() if plan.approved_by else ""

    @staticmethod
    def resolve_items(plan):
        return list(plan.items.all())
