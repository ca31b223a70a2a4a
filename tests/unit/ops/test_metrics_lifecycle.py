"""/metrics carries issue 14's states: stopped hosts, leases held and
lapsed, notifications by event and mail, webhook deliveries, the answers to a
clean-up notice. (Kept bytes against the budget: tests/integration/volumes/
test_budgets.py, from volumes an engine measured.)"""

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.models import (
    BuildHost,
    CleanupItem,
    CleanupPlan,
    Notification,
    Webhook,
    WebhookDelivery,
)
from hosts.notifications import outbox
from hosts.ops.metrics import exposition
from tests.support import world

pytestmark = pytest.mark.django_db


def samples() -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in exposition().splitlines()
        if line and not line.startswith("#")
    }


@pytest.fixture
def host(developer):
    endpoint = world.unreachable_endpoint()
    now = timezone.now()

    def make(name, state, lease_expires_at=None):
        return BuildHost.objects.create(
            owner=developer,
            endpoint=endpoint,
            name=name,
            image="x",
            state=state,
            expires_at=now + timedelta(hours=1),
            lease_seconds=60 if lease_expires_at else None,
            lease_expires_at=lease_expires_at,
        )

    return make


def test_stopped_hosts_and_leases_held_and_lapsed(host):
    now = timezone.now()
    host("idle", BuildHost.State.STOPPED)
    host("held", BuildHost.State.READY, now + timedelta(minutes=1))
    host("lapsed", BuildHost.State.READY, now - timedelta(seconds=1))
    # Removed: its lapsed lease is over, not waiting for removal.
    host("gone", BuildHost.State.REMOVED, now - timedelta(hours=1))

    found = samples()

    assert found['dchweb_build_hosts{state="stopped"}'] == 1
    assert found['dchweb_build_host_leases{lease="held"}'] == 1
    assert found['dchweb_build_host_leases{lease="lapsed"}'] == 1


def test_notifications_deliveries_and_notice_answers(developer, admin):
    assert samples()['dchweb_webhook_deliveries{state="failed"}'] == 0
    told = outbox.emit("build_host.ready", {"id": 1, "name": "a"}, owner=developer)
    outbox.emit("endpoint.off", {"id": 1, "name": "local"})
    Notification.objects.filter(pk=told.pk).update(
        mail_state=Notification.MailState.SENT
    )
    webhook = Webhook(name="ci", url="http://127.0.0.1:9/hook", events=["*"])
    webhook.set_secret("s3cret")
    webhook.save()
    WebhookDelivery.objects.create(
        webhook=webhook, notification=told, state=WebhookDelivery.State.FAILED
    )
    plan = CleanupPlan.objects.create(
        planned_by=admin, state=CleanupPlan.State.NOTICE, notice_days=3
    )
    endpoint = world.unreachable_endpoint("other")
    for name, answer in (("a", "keep"), ("b", "release"), ("c", ""), ("d", "")):
        CleanupItem.objects.create(
            plan=plan, endpoint=endpoint, volume_name=name, reason="r", answer=answer
        )

    found = samples()

    ready = 'dchweb_notifications{event="build_host.ready",mail_state="sent"}'
    off = 'dchweb_notifications{event="endpoint.off",mail_state="pending"}'
    assert (found[ready], found[off]) == (1, 1)
    assert found['dchweb_notifications{event="build.failed",mail_state="sent"}'] == 0
    assert found['dchweb_webhook_deliveries{state="failed"}'] == 1
    assert found['dchweb_webhook_deliveries{state="delivered"}'] == 0
    assert found['dchweb_cleanup_notice_items{answer="keep"}'] == 1
    assert found['dchweb_cleanup_notice_items{answer="release"}'] == 1
    assert found['dchweb_cleanup_notice_items{answer="unanswered"}'] == 2
