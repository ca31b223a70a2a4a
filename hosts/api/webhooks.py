"""API v1 webhooks (admins): HTTP in and out; the work is in
hosts/notifications/commands.py."""

from uuid import UUID

from ninja import Router, Status

from hosts.api.auth import BearerToken, admin_only
from hosts.api.schemas.common import errors
from hosts.api.schemas.webhooks import (
    WebhookCreatedOut,
    WebhookDeliveryOut,
    WebhookIn,
    WebhookOut,
    WebhookPatch,
)
from hosts.models import Webhook
from hosts.notifications import commands as notifications

# Checked before the body is read (hosts/api/auth.py), on every operation.
router = Router(
    tags=["webhooks"],
    auth=BearerToken(admin_only("only admins may see or change webhooks")),
)


@router.get("/webhooks", response={200: list[WebhookOut], **errors(400, 401, 403)})
def list_webhooks(request):
    """Admins only."""
    return Webhook.objects.all()


@router.post(
    "/webhooks",
    response={201: WebhookCreatedOut, **errors(400, 401, 403, 409)},
    summary="Add a webhook",
)
def create_webhook(request, payload: WebhookIn):
    """Admins only. 201 with `secret`, shown this once: give your own (16
    characters or more) or none, and dchweb makes one."""
    webhook, secret = notifications.create_webhook(
        request.auth, **payload.dict(), request=request
    )
    webhook.secret = secret
    return Status(201, webhook)


@router.get(
    "/webhooks/{webhook_id}", response={200: WebhookOut, **errors(400, 401, 403, 404)}
)
def get_webhook(request, webhook_id: int):
    return notifications.get_webhook(request.auth, webhook_id)


@router.patch(
    "/webhooks/{webhook_id}",
    response={200: WebhookOut, **errors(400, 401, 403, 404, 409)},
    summary="Change a webhook",
)
def update_webhook(request, webhook_id: int, payload: WebhookPatch):
    """Only the fields given change; null is "leave it"."""
    webhook = notifications.get_webhook(request.auth, webhook_id)
    changes = {
        key: value
        for key, value in payload.dict(exclude_unset=True).items()
        if value is not None
    }
    return notifications.update_webhook(
        request.auth, webhook, **changes, request=request
    )


@router.delete(
    "/webhooks/{webhook_id}",
    response={204: None, **errors(400, 401, 403, 404)},
    summary="Delete a webhook",
)
def delete_webhook(request, webhook_id: int):
    """Its delivery log goes with it; nothing more is sent to it."""
    webhook = notifications.get_webhook(request.auth, webhook_id)
    notifications.delete_webhook(request.auth, webhook, request=request)
    return Status(204, None)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response={200: list[WebhookDeliveryOut], **errors(400, 401, 403, 404)},
    summary="A webhook's delivery log",
)
def list_deliveries(request, webhook_id: int):
    """The latest deliveries, newest first: each one's event, state, last
    response code and tries."""
    webhook = notifications.get_webhook(request.auth, webhook_id)
    return notifications.delivery_log(webhook)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response={202: WebhookDeliveryOut, **errors(400, 401, 403, 404)},
    summary="Send a delivery again",
)
def redeliver(request, webhook_id: int, delivery_id: UUID):
    """202 with the new delivery (a new id); the worker sends it."""
    webhook = notifications.get_webhook(request.auth, webhook_id)
    delivery = notifications.get_delivery(request.auth, webhook, delivery_id)
    return Status(202, notifications.redeliver(request.auth, delivery, request=request))
