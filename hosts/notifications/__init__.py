"""Telling people what happened (issue 14, design.md §4.4): every event is
written to an outbox (`outbox.emit`) in the transaction that made it happen,
then mailed to whom it concerns (`mail`) and posted, signed, to every webhook
that asked for it (`delivery`), by Celery, with retries."""
