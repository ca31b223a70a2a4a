"""Handing work to the Celery workers from the request side."""

import logging

from django.db import transaction

logger = logging.getLogger(__name__)


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
