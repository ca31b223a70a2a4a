"""Tasks are thin: they take primitives and leave their work in the database."""

import pytest

from hosts.models import AuditEvent
from hosts.ops.tasks import record_heartbeat

pytestmark = pytest.mark.django_db


def test_heartbeat_writes_an_audit_event_from_the_task():
    result = record_heartbeat.apply(args=["unit-note"])

    event = AuditEvent.objects.get(pk=result.get())
    assert event.action == "worker.heartbeat"
    assert event.source == "task"
    assert event.details["note"] == "unit-note"
    assert event.details["hostname"]


def test_enqueueing_waits_for_the_commit(
    django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(record_heartbeat, "delay", lambda *args: sent.append(args))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        record_heartbeat.delay_on_commit("after-commit")
        assert sent == []

    assert len(callbacks) == 1
    callbacks[0]()
    assert sent == [("after-commit",)]
