"""Mailing a notification to the people it concerns (worker side).

Whom: the owner of the object, if they have an address and have not muted
the event; a notification without an owner concerns the admins, each by
their own settings. Once: the first run claims the notification (its
`mail_state` leaves "pending" by a conditional update), so a task run twice,
or by two workers, mails nothing new. At most once, then: a worker killed
in the middle of sending leaves it "sent" rather than mail everyone twice.

A failed send is "failed", with why in `mail_error` ("Try 1 of 3: ..."). The
periodic pass (`retry_failed`) puts it back to "pending" and dispatches it
again, DCHWEB_MAIL_MAX_TRIES tries in all, one per pass (a minute apart by
default), so a mail server down for a few minutes loses nothing and one down
for good is not hammered.
"""

import logging
import re
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail as django_mail
from django.db.models import Q
from django.utils import timezone

from hosts.core.permissions import ADMINS_GROUP
from hosts.lib import event_words
from hosts.lib.failures import full_text, reason_of, shorten
from hosts.models import Notification, NotificationSettings

logger = logging.getLogger(__name__)

Event = Notification.Event
MailState = Notification.MailState

# Events about a person's own things (the owner is told); the others concern
# the installation as a whole and go to the admins (owner null).
OWNER_EVENTS = (
    Event.BUILD_HOST_READY,
    Event.BUILD_HOST_FAILED,
    Event.BUILD_HOST_STOPPED,
    Event.BUILD_HOST_EXPIRING,
    Event.BUILD_HOST_REMOVED,
    Event.BUILD_SUCCEEDED,
    Event.BUILD_FAILED,
    Event.VOLUMES_OVER_BUDGET,
    Event.CLEANUP_NOTICE,
)
ADMIN_EVENTS = (
    Event.CERTIFICATE_EXPIRING,
    Event.ENDPOINT_OFF,
    Event.ENDPOINT_ON,
    Event.REGISTRY_TRUST_LOST,
    # An admin's own hosts and builds, and what a budget or clean-up says
    # to the admins as a whole, come to them too.
    *OWNER_EVENTS,
)

_TRIES = re.compile(r"^Try (\d+) of \d+")


def events_for(user) -> tuple:
    """The events that may reach `user` by mail."""
    return ADMIN_EVENTS if hears_admin_events(user) else OWNER_EVENTS


def muted_events(user) -> list[str]:
    row = NotificationSettings.objects.filter(user=user).first()
    return list(row.muted_events) if row else []


def send_for(notification_id: int) -> str:
    """Mail the notification to whom it concerns, once; its new mail state."""
    notification = (
        Notification.objects.select_related("owner").filter(pk=notification_id).first()
    )
    if notification is None or not _claim(notification):
        return ""
    recipients = [
        user.email for user in _concerned(notification) if _wants(user, notification)
    ]
    if not recipients:
        return _settle(notification, MailState.NONE)
    try:
        _send(notification, recipients)
    except Exception as error:
        tries = tries_of(notification) + 1
        why = _in_words(error)
        logger.warning("mail for notification %s failed: %s", notification.pk, why)
        return _settle(
            notification,
            MailState.FAILED,
            f"Try {tries} of {settings.DCHWEB_MAIL_MAX_TRIES}: {why}",
        )
    return _settle(notification, MailState.SENT)


def tries_of(notification) -> int:
    """How many sends of this notification failed so far."""
    found = _TRIES.match(notification.mail_error or "")
    return int(found.group(1)) if found else 0


def retry_failed() -> list[int]:
    """Failed mails with tries left go back to "pending"; their ids, to be
    dispatched again. Each is taken by one pass only (a conditional update)."""
    again = []
    # A day on, it is news no more: the row keeps saying why it failed.
    recent = timezone.now() - timedelta(days=1)
    failed = Notification.objects.filter(mail_state=MailState.FAILED, at__gte=recent)
    for notification in failed:
        if tries_of(notification) >= settings.DCHWEB_MAIL_MAX_TRIES:
            continue
        taken = Notification.objects.filter(
            pk=notification.pk,
            mail_state=MailState.FAILED,
            mail_error=notification.mail_error,
        ).update(mail_state=MailState.PENDING)
        if taken:
            again.append(notification.pk)
    return again


def undispatched(grace=None):
    """Notifications nobody has told yet, older than the grace (their task
    was lost: a broker down when they happened)."""
    if grace is None:
        grace = timedelta(seconds=settings.DCHWEB_NOTIFICATION_GRACE_SECONDS)
    return Notification.objects.filter(
        Q(mail_state=MailState.PENDING) | Q(dispatched_at=None),
        at__lt=timezone.now() - grace,
    )


def _claim(notification) -> bool:
    # "sent" while it is being sent: a second run finds nothing pending.
    claimed = Notification.objects.filter(
        pk=notification.pk, mail_state=MailState.PENDING
    ).update(mail_state=MailState.SENT)
    return claimed == 1


def _settle(notification, state, error="") -> str:
    Notification.objects.filter(pk=notification.pk).update(
        mail_state=state, mail_error=error
    )
    return state


def _concerned(notification):
    if notification.owner_id is not None:
        return [notification.owner]
    return _admins()


def _admins():
    return (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(is_staff=True) | Q(groups__name=ADMINS_GROUP))
        .exclude(email="")
        .distinct()
        .order_by("pk")
    )


def hears_admin_events(user) -> bool:
    """Staff, superusers and the admins group: those the admins' events
    (owner null) are mailed to, each by their own choice."""
    return (
        user.is_superuser
        or user.is_staff
        or user.groups.filter(name=ADMINS_GROUP).exists()
    )


def _wants(user, notification) -> bool:
    return (
        user.is_active
        and bool(user.email)
        and notification.event in events_for(user)
        and notification.event not in muted_events(user)
    )


def _send(notification, recipients) -> None:
    event, obj = notification.event, notification.object or {}
    subject = event_words.subject(event, obj)
    body = _body(notification)
    # One message each: no one sees who else was told.
    messages = [
        django_mail.EmailMessage(subject, body, to=[address]) for address in recipients
    ]
    with django_mail.get_connection(fail_silently=False) as connection:
        connection.send_messages(messages)


def _body(notification) -> str:
    obj = notification.object or {}
    lines = [event_words.describe(notification.event, obj), ""]
    path = str(obj.get("url") or "")
    if path.startswith("/"):
        lines += [f"Open it: {settings.DCHWEB_PUBLIC_URL}{path}", ""]
    lines += [
        f"When: {notification.at:%Y-%m-%d %H:%M} UTC",
        "",
        "-- ",
        "dchweb. Choose which events reach you by mail: "
        f"{settings.DCHWEB_PUBLIC_URL}/account/notifications/",
    ]
    return "\n".join(lines)


def _in_words(error) -> str:
    """Why a send failed, for the admin reading the notification's row."""
    detail = shorten(full_text(error) or type(error).__name__, 500)
    reason = reason_of(detail)
    words = {
        "connection_refused": "the mail server refused the connection",
        "timeout": "the mail server did not answer in time",
        "unknown_host": "the mail server's name does not resolve",
        "connection_reset": "the mail server cut the connection",
    }.get(reason)
    return f"{words} ({detail})" if words else f"the mail server said: {detail}"
