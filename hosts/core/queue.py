"""Handing work to the Celery workers from the request side."""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)

# Tasks that code below their domain sends by name (send_on_commit).
# The warm pool's refill (hosts/buildhosts/tasks.py): sent by an endpoint's
# change or its probe, and by a removal that gives a cache back.
REFILL_POOL_TASK = "hosts.tasks.refill_pool"


def enqueue_on_commit(task, *args) -> None:
    """Send `task` once the current transaction commits, so a worker never
    looks for a row that is not committed yet. A broker that is down must not
    undo the change nor fail the request: the row is saved, and the periodic
    reconciler takes up whatever it finds waiting. Logged, not raised."""

    def send():
        try:
            task.delay(*args)
        except Exception:
            logger.exception("could not enqueue %s%r: resumed later", task.name, args)

    transaction.on_commit(send)


def send_on_commit(task_name: str, *args) -> None:
    """Send the task named `task_name` once the current transaction commits.
    By name, for the worker side: it may not import any domain's tasks
    (design.md §1), yet an event it records is worth telling at once. A broker
    that is down loses nothing: the periodic pass sends what is left."""

    def send():
        from celery import current_app

        try:
            current_app.send_task(task_name, args=args)
        except Exception:
            logger.exception("could not send %s%r: resumed later", task_name, args)

    transaction.on_commit(send)
