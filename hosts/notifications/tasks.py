"""Celery tasks of notifications. Task names stay `hosts.tasks.<name>`."""

from celery import shared_task

from hosts.notifications import delivery, mail


@shared_task(name="hosts.tasks.dispatch_notification")
def dispatch_notification(notification_id: int) -> int:
    """Plan the webhook deliveries of one notification and mail it. Run twice
    (a redelivered task), it plans and mails nothing new."""
    delivery_ids = delivery.plan_deliveries(notification_id)
    for delivery_id in delivery_ids:
        deliver_webhook.delay(str(delivery_id))
    mail.send_for(notification_id)
    return len(delivery_ids)


@shared_task(name="hosts.tasks.deliver_webhook")
def deliver_webhook(delivery_id: str) -> str:
    """One try of one delivery; a failed try is tried again when its wait is
    over. Run again after a success (a redelivered task), it sends nothing.
    A countdown lost with the broker: the periodic pass sends it instead."""
    outcome = delivery.deliver(delivery_id)
    if outcome.retry_in is not None:
        deliver_webhook.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.state


def resume_deliveries() -> int:
    """For the periodic pass: send the deliveries that are due (retries, and
    tries whose sender died). Sent twice, each is still sent once."""
    due = delivery.due_ids()
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)


def resume_notifications() -> int:
    """For the periodic pass: dispatch what nobody has told yet (its task
    lost with a broker that was down) and the mails whose send failed and
    have tries left. Each goes out once however many passes run."""
    waiting = list(mail.undispatched().values_list("pk", flat=True))
    again = mail.retry_failed()
    for notification_id in dict.fromkeys([*waiting, *again]):
        dispatch_notification.delay(notification_id)
    return len(waiting) + len(again)
