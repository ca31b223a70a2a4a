"""Notification use cases: views, the API and the CLI call these.

Webhooks are admins' (design.md §4.4): a URL, a secret, the events it wants
and a format. The secret signs every body; it is stored encrypted and shown
once, on the answer to the create (given, or made here when left empty).
Input is checked before anything is saved, so a rejected create leaves no
row and no audit event; the audit trail never holds a secret.
"""

import secrets
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction
from django.utils import timezone

from hosts.core import audit
from hosts.core.errors import Conflict, Invalid, NotFound
from hosts.core.permissions import require_admin
from hosts.core.queue import enqueue_on_commit
from hosts.core.unset import UNSET
from hosts.models import Notification, Webhook, WebhookDelivery
from hosts.notifications import delivery as deliveries
from hosts.notifications import tasks

NAME_MAX_LENGTH = Webhook._meta.get_field("name").max_length
URL_MAX_LENGTH = Webhook._meta.get_field("url").max_length
SECRET_MIN_LENGTH = 16
SECRET_MAX_LENGTH = 200
ADMINS_ONLY = "only admins may manage webhooks"
MAX_TRIES = deliveries.MAX_TRIES
# The deliveries a webhook's log shows, newest first.
DELIVERY_LOG_LENGTH = 50


class WebhookInvalid(Invalid):
    """Input dchweb will not store; the message says why, `field` says where."""

    code = "invalid_webhook"


class WebhookExists(Conflict):
    """Another webhook has this name."""

    def __init__(self, name):
        super().__init__(f"a webhook named “{name}” exists", code="webhook_exists")


# --- Validation -----------------------------------------------------------------


def _clean_name(name) -> str:
    name = (name or "").strip()
    if not name:
        raise WebhookInvalid("a name is required", "name")
    if len(name) > NAME_MAX_LENGTH:
        raise WebhookInvalid(
            f"the name is longer than {NAME_MAX_LENGTH} characters", "name"
        )
    return name


def clean_url(url) -> str:
    """An http:// or https:// URL with a host; WebhookInvalid says why not."""
    url = (url or "").strip()
    example = "e.g. https://ci.example.com/hooks/dchweb"
    if not url:
        raise WebhookInvalid(f"a URL is required, {example}", "url")
    if len(url) > URL_MAX_LENGTH:
        raise WebhookInvalid(
            f"the URL is longer than {URL_MAX_LENGTH} characters", "url"
        )
    if any(character.isspace() for character in url):
        raise WebhookInvalid("the URL has spaces in it", "url")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed [IPv6] bracket
        raise WebhookInvalid(f"that is not a URL, {example}", "url") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise WebhookInvalid(
            f"the URL must start with http:// or https://, {example}", "url"
        )
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise WebhookInvalid(
            "the URL's port is not a number from 1 to 65535", "url"
        ) from None
    if not host:
        raise WebhookInvalid(f"the URL names no host, {example}", "url")
    if port == 0:
        raise WebhookInvalid("the URL's port is not a number from 1 to 65535", "url")
    return url


def clean_events(events) -> list[str]:
    """At least one of Notification.Event, in the events' own order."""
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, (list, tuple, set)) or not events:
        raise WebhookInvalid("choose at least one event", "events")
    known = list(Notification.Event.values)
    unknown = sorted({str(event) for event in events} - set(known))
    if unknown:
        raise WebhookInvalid(
            f"no such event: {', '.join(unknown)}; the events are {', '.join(known)}",
            "events",
        )
    return [event for event in known if event in set(events)]


def _clean_format(value) -> str:
    value = value or Webhook.Format.GENERIC
    if value not in Webhook.Format.values:
        raise WebhookInvalid(f"no format {value!r}: generic (JSON) or slack", "format")
    return value


def _clean_secret(secret) -> str:
    if len(secret) < SECRET_MIN_LENGTH:
        raise WebhookInvalid(
            f"the secret is shorter than {SECRET_MIN_LENGTH} characters; leave it "
            "empty and dchweb makes one",
            "secret",
        )
    if len(secret) > SECRET_MAX_LENGTH:
        raise WebhookInvalid(
            f"the secret is longer than {SECRET_MAX_LENGTH} characters", "secret"
        )
    return secret


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _check_unique(name, exclude_pk=None):
    if Webhook.objects.exclude(pk=exclude_pk).filter(name=name).exists():
        raise WebhookExists(name)


# --- Create, update, delete -------------------------------------------------------


def create_webhook(
    actor,
    *,
    name,
    url,
    events,
    format=None,
    secret=None,
    active=True,
    source=None,
    request=None,
) -> tuple[Webhook, str]:
    """Validate and store a webhook: (webhook, its secret, to show once).
    No secret given: dchweb makes one. Audited as `webhook.created`.

    Raises Forbidden (403), WebhookInvalid (400) or WebhookExists (409)."""
    require_admin(actor, ADMINS_ONLY)
    name = _clean_name(name)
    webhook = Webhook(
        name=name,
        url=clean_url(url),
        events=clean_events(events),
        format=_clean_format(format),
        active=bool(active),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    secret = _clean_secret(secret) if secret else new_secret()
    webhook.set_secret(secret)
    _check_unique(name)
    try:
        with transaction.atomic():
            webhook.save()
            audit.record(
                actor,
                "webhook.created",
                webhook,
                _described(webhook),
                source=source,
                request=request,
            )
    except IntegrityError:
        raise WebhookExists(name) from None
    return webhook, secret


def update_webhook(
    actor,
    webhook: Webhook,
    *,
    name=UNSET,
    url=UNSET,
    events=UNSET,
    format=UNSET,
    secret=UNSET,
    active=UNSET,
    source=None,
    request=None,
) -> Webhook:
    """Change the given fields (a new secret replaces the old one at once);
    audited as `webhook.updated` with the names of the changed fields."""
    require_admin(actor, ADMINS_ONLY)
    wanted = {}
    if name is not UNSET:
        wanted["name"] = _clean_name(name)
    if url is not UNSET:
        wanted["url"] = clean_url(url)
    if events is not UNSET:
        wanted["events"] = clean_events(events)
    if format is not UNSET:
        wanted["format"] = _clean_format(format)
    if active is not UNSET:
        if not isinstance(active, bool):
            raise WebhookInvalid("active is true or false", "active")
        wanted["active"] = active
    new_secret_value = None
    if secret is not UNSET and secret is not None:
        new_secret_value = _clean_secret(secret)
    _check_unique(wanted.get("name", webhook.name), exclude_pk=webhook.pk)
    changed = [key for key, value in wanted.items() if getattr(webhook, key) != value]
    for key in changed:
        setattr(webhook, key, wanted[key])
    if new_secret_value is not None and new_secret_value != webhook.get_secret():
        webhook.set_secret(new_secret_value)
        changed.append("secret")
    if not changed:
        return webhook
    try:
        with transaction.atomic():
            webhook.save()
            # Field names only: a secret must never land in the trail.
            audit.record(
                actor,
                "webhook.updated",
                webhook,
                {"fields": sorted(changed)},
                source=source,
                request=request,
            )
    except IntegrityError:
        raise WebhookExists(webhook.name) from None
    return webhook


def delete_webhook(actor, webhook: Webhook, *, source=None, request=None) -> None:
    """Delete a webhook and its delivery log; audited `webhook.deleted`.
    A try under way finds its row gone and records nothing."""
    require_admin(actor, ADMINS_ONLY)
    with transaction.atomic():
        audit.record(
            actor,
            "webhook.deleted",
            webhook,
            _described(webhook),
            source=source,
            request=request,
        )
        webhook.delete()


def _described(webhook) -> dict:
    return {
        "name": webhook.name,
        "url": webhook.url,
        "events": webhook.events,
        "format": webhook.format,
        "active": webhook.active,
    }


# --- Deliveries -------------------------------------------------------------------


def redeliver(
    actor, delivery: WebhookDelivery, *, source=None, request=None
) -> WebhookDelivery:
    """Send a delivery's notification again, to its webhook, as a delivery
    of its own (a new id, tries from 0); audited `webhook.redelivered`."""
    require_admin(actor, ADMINS_ONLY)
    with transaction.atomic():
        again = WebhookDelivery.objects.create(
            webhook=delivery.webhook,
            notification=delivery.notification,
            redelivery_of=delivery,
            next_try_at=timezone.now(),
        )
        audit.record(
            actor,
            "webhook.redelivered",
            delivery.webhook,
            {
                "delivery": str(delivery.pk),
                "new_delivery": str(again.pk),
                "event": delivery.notification.event,
            },
            source=source,
            request=request,
        )
        enqueue_on_commit(tasks.deliver_webhook, str(again.pk))
    return again


# --- Reading ----------------------------------------------------------------------


def get_webhook(actor, webhook_id) -> Webhook:
    """The webhook, for an admin; NotFound when there is none."""
    require_admin(actor, ADMINS_ONLY)
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        raise NotFound(f"no webhook with id {webhook_id}")
    return webhook


def get_delivery(actor, webhook, delivery_id) -> WebhookDelivery:
    """One of the webhook's deliveries; NotFound when it has no such one."""
    require_admin(actor, ADMINS_ONLY)
    delivery = (
        WebhookDelivery.objects.select_related("notification", "webhook")
        .filter(webhook=webhook, pk=delivery_id)
        .first()
    )
    if delivery is None:
        raise NotFound(f"webhook “{webhook.name}” has no delivery {delivery_id}")
    return delivery


def delivery_log(webhook, limit=DELIVERY_LOG_LENGTH) -> list[WebhookDelivery]:
    """The webhook's latest deliveries, newest first."""
    rows = WebhookDelivery.objects.filter(webhook=webhook).select_related(
        "notification"
    )
    return list(rows.order_by("-created_at")[:limit])


def is_live(deliveries) -> bool:
    """Whether any delivery shown may still change (the log polls then)."""
    settled = (WebhookDelivery.State.DELIVERED, WebhookDelivery.State.FAILED)
    return any(delivery.state not in settled for delivery in deliveries)
