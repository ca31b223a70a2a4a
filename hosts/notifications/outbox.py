"""The one way any domain says that something happened: `emit` writes the
event to the outbox in the caller's transaction, and asks a worker to tell
people once that transaction commits. A rolled-back change tells nobody; a
broker that is down delays the telling, the periodic pass sends it later."""

from hosts.core.queue import send_on_commit
from hosts.models import Notification

DISPATCH_TASK = "hosts.tasks.dispatch_notification"


def emit(event: str, obj: dict, owner=None) -> Notification:
    """Record `event` (one of Notification.Event) about `obj` (plain JSON, as
    the API shows the object), concerning `owner` (None: the admins)."""
    notification = Notification.objects.create(
        event=Notification.Event(event), object=obj, owner=owner
    )
    send_on_commit(DISPATCH_TASK, notification.pk)
    return notification
