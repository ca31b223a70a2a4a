"""What a person chooses to get by mail, and what they were told (request
side: /account/notifications/). The mail itself is `mail`."""

from django.db import transaction
from django.db.models import Q

from hosts.core import audit
from hosts.core.errors import Invalid
from hosts.models import Notification, NotificationSettings
from hosts.notifications import mail

RECENT = 20


def events_for(user) -> list[tuple[str, str]]:
    """(event, its label) for every event that may reach `user` by mail."""
    labels = dict(Notification.Event.choices)
    return [(str(event), labels[event]) for event in mail.events_for(user)]


def mailed_events(user) -> list[str]:
    """The events `user` gets by mail now: all of theirs but the muted."""
    muted = set(mail.muted_events(user))
    return [event for event, _ in events_for(user) if event not in muted]


@transaction.atomic
def choose_mailed_events(user, mailed, *, request) -> NotificationSettings:
    """Mail `user` the events in `mailed` from now on, and none of their
    other events. An event not theirs is refused, before anything is saved."""
    theirs = [event for event, _ in events_for(user)]
    unknown = sorted(set(mailed) - set(theirs))
    if unknown:
        raise Invalid(
            "these events are not yours to choose: " + ", ".join(unknown),
            field="mailed",
        )
    muted = [event for event in theirs if event not in set(mailed)]
    row, _ = NotificationSettings.objects.select_for_update().get_or_create(user=user)
    if row.muted_events != muted:
        row.muted_events = muted
        row.save(update_fields=["muted_events", "updated_at"])
        audit.record(
            user, "notifications.chosen", row, {"muted": muted}, request=request
        )
    return row


def recent_for(user, limit=RECENT):
    """The latest notifications that concerned `user`: their own, and for an
    admin the installation's (owner null) too."""
    concerning = Q(owner=user)
    if mail.hears_admin_events(user):
        concerning |= Q(owner=None)
    return list(Notification.objects.filter(concerning).order_by("-at", "-id")[:limit])
