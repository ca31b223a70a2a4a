from datetime import datetime
from typing import Literal
from uuid import UUID

from ninja import Field, Schema

from hosts.models import Notification

EVENTS = ", ".join(Notification.Event.values)


class WebhookOut(Schema):
    """Never the secret: it is shown once, when the webhook is made."""

    id: int
    name: str
    url: str
    events: list[str]
    format: str = Field(description='"generic" (JSON) or "slack"')
    active: bool
    created_at: datetime
    updated_at: datetime


class WebhookCreatedOut(WebhookOut):
    secret: str = Field(
        description="signs every body (X-Dchweb-Signature); shown this once"
    )


class WebhookIn(Schema):
    name: str = Field(..., max_length=100)
    url: str = Field(..., description="http:// or https://, receives the POSTs")
    secret: str | None = Field(
        None,
        description="at least 16 characters; none: dchweb makes one and shows "
        "it in the answer, once",
    )
    events: list[str] = Field(..., description=f"at least one of {EVENTS}")
    format: Literal["generic", "slack"] = "generic"
    active: bool = True


class WebhookPatch(Schema):
    """Only the fields given change; a new secret replaces the old at once."""

    name: str | None = Field(None, max_length=100)
    url: str | None = None
    secret: str | None = None
    events: list[str] | None = None
    format: Literal["generic", "slack"] | None = None
    active: bool | None = None


class WebhookDeliveryOut(Schema):
    id: UUID = Field(description="the X-Dchweb-Delivery header")
    event: str
    state: str = Field(
        description='"pending", "sending", "retrying", "delivered" or "failed"'
    )
    response_code: int | None = Field(None, description="the last try's HTTP status")
    tries: int
    last_error: str
    created_at: datetime
    next_try_at: datetime | None
    delivered_at: datetime | None
    redelivery_of: UUID | None = Field(None, description="the delivery sent again")

    @staticmethod
    def resolve_event(delivery) -> str:
        return delivery.notification.event

    @staticmethod
    def resolve_redelivery_of(delivery):
        return delivery.redelivery_of_id
