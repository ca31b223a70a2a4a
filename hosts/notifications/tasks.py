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
    """One try of one delivery; a failed try is tried again later."""
    # Part of issue 14 (webhooks): filled in by its change.
    return delivery_id
