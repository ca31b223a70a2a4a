from datetime import datetime

from ninja import Field, Schema


class AuditEventOut(Schema):
    id: int
    created_at: datetime
    actor: str = Field(alias="actor_name")
    action: str
    object_type: str
    object_id: str
    object_repr: str
    details: dict
    source: str
    remote_addr: str | None


class AuditEventPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[AuditEventOut]
