"""A task goes through the real Redis to a real worker and lands in the database."""

import time
import uuid

import pytest

from hosts.models import AuditEvent
from hosts.ops.tasks import record_heartbeat

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _wait_for(query, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = query.first()
        if found is not None:
            return found
        time.sleep(0.2)
    return None


def test_task_result_reaches_the_database(celery_worker):
    note = uuid.uuid4().hex

    record_heartbeat.delay(note)
    event = _wait_for(AuditEvent.objects.filter(details__note=note))

    assert event is not None, "the worker never recorded the heartbeat"
    assert event.action == "worker.heartbeat"
    assert event.source == "task"
    assert event.details["hostname"].startswith("dchweb-test-")
