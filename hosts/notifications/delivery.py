"""Posting notifications to webhooks, signed, with retries (worker side).

A delivery is one notification for one webhook. Whoever sends it first
claims it with a conditional update (a lease), so two tasks, or a task and
the periodic pass, never post it at the same time; a delivery that got a 2xx
is never claimed again. A failed try waits 1, 2, 4 ... 60 minutes before the
next (DCHWEB_WEBHOOK_RETRY_SECONDS scales the first wait), 8 tries in all.
A sender that died mid-try leaves its lease to expire: the periodic pass
sends the delivery again then."""

import json
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from hosts.lib import event_words, webhook_post
from hosts.models import Notification, Webhook, WebhookDelivery

MAX_TRIES = 8
# The wait before a retry doubles from the first (1 minute) up to this many
# times the first (1 hour).
LONGEST_WAIT_FACTOR = 60
# A try holds its lease this much longer than the POST may take.
LEASE_MARGIN_SECONDS = 30

State = WebhookDelivery.State
WAITING_STATES = (State.PENDING, State.RETRYING)


def plan_deliveries(notification_id: int) -> list[str]:
    """One delivery per active webhook that asked for the event; their ids.
    Planned twice, the second plan makes none (one first delivery per
    webhook and notification)."""
    notification = Notification.objects.filter(pk=notification_id).first()
    if notification is None:
        return []
    planned = []
    for webhook in Webhook.objects.filter(active=True):
        if notification.event not in webhook.events:
            continue
        delivery = _first_delivery(webhook, notification)
        if delivery is not None:
            planned.append(str(delivery.pk))
    Notification.objects.filter(pk=notification.pk, dispatched_at=None).update(
        dispatched_at=timezone.now()
    )
    return planned


def _first_delivery(webhook, notification):
    try:
        with transaction.atomic():
            return WebhookDelivery.objects.create(
                webhook=webhook, notification=notification, next_try_at=timezone.now()
            )
    except IntegrityError:  # planned before
        return None


def retry_wait(tries: int) -> timedelta:
    """How long to wait after the `tries`-th failed try: 1, 2, 4, 8, 16, 32,
    then 60 minutes (with the first wait of 60 s)."""
    first = settings.DCHWEB_WEBHOOK_RETRY_SECONDS
    factor = min(2 ** max(tries - 1, 0), LONGEST_WAIT_FACTOR)
    return timedelta(seconds=first * factor)


@dataclass(frozen=True)
class Outcome:
    """What one call of `deliver` did. `retry_in`: seconds until the next
    try is due (None: no next try, the delivery is done or not ours)."""

    sent: bool
    state: str
    retry_in: float | None = None


def deliver(delivery_id: str) -> Outcome:
    """One try of one delivery, if it is due and nobody else is sending it."""
    lease = _claim(delivery_id)
    if lease is None:
        state = (
            WebhookDelivery.objects.filter(pk=delivery_id)
            .values_list("state", flat=True)
            .first()
        )
        return Outcome(sent=False, state=state or "")
    delivery = WebhookDelivery.objects.select_related("webhook", "notification").get(
        pk=delivery_id
    )
    answer = _post(delivery)
    return _record(delivery, lease, answer)


def _claim(delivery_id: str):
    """The lease's end if this caller now holds the delivery, else None.
    The try is counted here: a sender that dies mid-try has used it."""
    now = timezone.now()
    lease_until = now + timedelta(
        seconds=settings.DCHWEB_WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS
    )
    claimed = (
        WebhookDelivery.objects.filter(pk=delivery_id)
        .filter(_due(now))
        .filter(tries__lt=MAX_TRIES)
        .update(state=State.SENDING, lease_until=lease_until, tries=F("tries") + 1)
    )
    if claimed:
        return lease_until
    _give_up_if_spent(delivery_id, now)
    return None


def _due(now) -> Q:
    """Waiting and due, or being sent by someone whose lease ran out; to a
    webhook that is not paused (a paused one's wait until it is resumed)."""
    waiting = Q(state__in=WAITING_STATES) & (
        Q(next_try_at__isnull=True) | Q(next_try_at__lte=now)
    )
    abandoned = Q(state=State.SENDING, lease_until__lt=now)
    return (waiting | abandoned) & Q(webhook__active=True)


def _give_up_if_spent(delivery_id, now) -> None:
    # A sender that died during the last allowed try: nothing is left to try.
    WebhookDelivery.objects.filter(pk=delivery_id, tries__gte=MAX_TRIES).filter(
        _due(now)
    ).update(
        state=State.FAILED,
        lease_until=None,
        next_try_at=None,
        last_error="the last try was interrupted (the sender stopped)",
    )


def body_of(delivery) -> bytes:
    """The bytes posted (and signed): the webhook's format of the event."""
    notification = delivery.notification
    if delivery.webhook.format == Webhook.Format.SLACK:
        payload = {
            "text": event_words.describe(notification.event, notification.object)
        }
    else:
        payload = {
            "event": notification.event,
            "at": notification.at.isoformat(),
            "object": notification.object,
        }
    return json.dumps(payload, separators=(",", ":")).encode()


def headers_of(delivery, body: bytes) -> dict:
    return {
        "X-Dchweb-Event": delivery.notification.event,
        "X-Dchweb-Delivery": str(delivery.pk),
        "X-Dchweb-Signature": webhook_post.signature(
            delivery.webhook.get_secret(), body
        ),
    }


def _post(delivery) -> webhook_post.Answer:
    body = body_of(delivery)
    return webhook_post.post(
        delivery.webhook.url,
        body,
        headers_of(delivery, body),
        timeout=settings.DCHWEB_WEBHOOK_TIMEOUT_SECONDS,
    )


def _record(delivery, lease_until, answer) -> Outcome:
    """Write how the try went, if the lease is still ours."""
    now = timezone.now()
    ours = WebhookDelivery.objects.filter(
        pk=delivery.pk, state=State.SENDING, lease_until=lease_until
    )
    if answer.delivered:
        ours.update(
            state=State.DELIVERED,
            response_code=answer.code,
            last_error="",
            delivered_at=now,
            next_try_at=None,
            lease_until=None,
        )
        return Outcome(sent=True, state=State.DELIVERED)
    if delivery.tries >= MAX_TRIES:
        ours.update(
            state=State.FAILED,
            response_code=answer.code,
            last_error=answer.error,
            next_try_at=None,
            lease_until=None,
        )
        return Outcome(sent=True, state=State.FAILED)
    wait = retry_wait(delivery.tries)
    ours.update(
        state=State.RETRYING,
        response_code=answer.code,
        last_error=answer.error,
        next_try_at=now + wait,
        lease_until=None,
    )
    return Outcome(sent=True, state=State.RETRYING, retry_in=wait.total_seconds())


def due_ids(now=None) -> list[str]:
    """Deliveries a sender should take up now: due retries, and those whose
    sender died (its lease ran out). The periodic pass sends them, so a
    countdown lost with a broker or a worker loses nothing."""
    now = now or timezone.now()
    rows = WebhookDelivery.objects.filter(_due(now))
    return [str(pk) for pk in rows.values_list("pk", flat=True)]
