from datetime import datetime

from ninja import Field, Schema

from hosts.api.schemas.common import RowId
from hosts.volumes.plans import (
    DEFAULT_KEEP_DAYS_ALLOWED,
    MAX_NOTICE_DAYS,
    MAX_OLDER_THAN_DAYS,
    MIN_NOTICE_DAYS,
)


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
    notice_days: int | None = Field(
        None,
        description="admins: send the plan to the volumes' owners first; they "
        "may keep or release each volume for this many days "
        f"({MIN_NOTICE_DAYS} to {MAX_NOTICE_DAYS}), then it is executed",
    )
    keep_days_allowed: int | None = Field(
        None,
        description="with notice_days: for how many days at most an owner may "
        f"keep a volume (default {DEFAULT_KEEP_DAYS_ALLOWED})",
    )


class CleanupItemOut(Schema):
    id: int
    endpoint_id: int
    volume_name: str
    owner: str
    reason: str
    size_bytes: int | None
    result: str
    detail: str
    answer: str = Field(
        description='the owner\'s answer to a notice: "keep", "release" or "" (none)'
    )
    answer_reason: str
    keep_until: datetime | None
    answered_at: datetime | None

    @staticmethod
    def resolve_owner(item):
        return item.owner_name


class KeepIn(Schema):
    reason: str = Field(description="why the volume is kept (required)")
    days: int = Field(
        description="for how many days, up to the plan's keep_days_allowed"
    )


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
    notice_days: int | None
    notice_ends_at: datetime | None
    keep_days_allowed: int | None
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


class KeptVolumeOut(Schema):
    name: str
    endpoint: str
    size_bytes: int


class BudgetOut(Schema):
    """What the caller keeps in volumes against their budget
    (DCHWEB_USER_BUDGET_GB; budget_bytes 0: no budget)."""

    used_bytes: int
    budget_bytes: int
    percent: int
    warned: bool = Field(description="at 80 % of the budget or more")
    over: bool = Field(
        description="at the budget or past it: keeping more volumes is refused"
    )
    largest: list[KeptVolumeOut]
