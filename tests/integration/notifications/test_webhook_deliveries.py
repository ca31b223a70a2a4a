"""Webhook deliveries against a real HTTP receiver on 127.0.0.1 (a thread of
the test): signed bodies in both formats, retries of a receiver that is down
or hangs up mid-delivery, never a second send after a success, redelivery as
a new delivery, and giving up after 8 tries."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.lib import event_words
from hosts.models import Notification, WebhookDelivery
from hosts.notifications import commands as notifications
from hosts.notifications import delivery, outbox
from tests.support.receiver import CLOSE, HANG, Receiver

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SECRET = "a-shared-secret-of-the-receiver"
BUILD = {
    "id": "7d4c1c2e-0000-4000-8000-000000000001",
    "name": "web",
    "owner": "alice",
    "tag": "registry.test:5443/default-project/web:1.0",
    "summary": "The build of web:1.0 succeeded.",
}
State = WebhookDelivery.State


@pytest.fixture
def receiver():
    receiver = Receiver(SECRET).start()
    yield receiver
    receiver.stop()


@pytest.fixture
def fast_retries(settings):
    """Each retry due at once, and a receiver that hangs given 1 s."""
    settings.DCHWEB_WEBHOOK_RETRY_SECONDS = 0
    settings.DCHWEB_WEBHOOK_TIMEOUT_SECONDS = 1


def make_webhook(admin, url, format="generic", events=("build.succeeded",)):
    webhook, _ = notifications.create_webhook(
        admin,
        name=f"hook-{format}",
        url=url,
        events=list(events),
        format=format,
        secret=SECRET,
        source="cli",
    )
    return webhook


def planned_delivery(event="build.succeeded", obj=BUILD):
    notification = outbox.emit(event, obj)
    (delivery_id,) = delivery.plan_deliveries(notification.pk)
    return WebhookDelivery.objects.get(pk=delivery_id)


def test_a_generic_delivery_is_signed_and_never_sent_again_after_a_success(
    admin, receiver
):
    make_webhook(admin, receiver.url)
    first = planned_delivery()

    outcome = delivery.deliver(str(first.pk))
    again = delivery.deliver(str(first.pk))

    assert (outcome.sent, outcome.state) == (True, State.DELIVERED)
    assert (again.sent, again.state) == (False, State.DELIVERED)
    (got,) = receiver.received
    assert got.signature_ok
    assert got.headers["X-Dchweb-Event"] == "build.succeeded"
    assert got.delivery_id == str(first.pk)
    assert got.headers["Content-Type"] == "application/json"
    assert got.json == {
        "event": "build.succeeded",
        "at": first.notification.at.isoformat(),
        "object": BUILD,
    }
    first.refresh_from_db()
    assert (first.state, first.response_code, first.tries) == (State.DELIVERED, 200, 1)
    assert first.delivered_at is not None
    # Planned again (a dispatch task run twice): no second delivery.
    assert delivery.plan_deliveries(first.notification_id) == []


def test_a_slack_delivery_is_one_sentence(admin, receiver):
    make_webhook(admin, receiver.url, format="slack")
    sent = planned_delivery()

    delivery.deliver(str(sent.pk))

    (got,) = receiver.received
    assert got.signature_ok
    assert got.json == {"text": event_words.describe("build.succeeded", BUILD)}
    assert "web" in got.json["text"]


def test_only_active_webhooks_that_asked_for_the_event_get_it(admin, receiver):
    asked = make_webhook(admin, receiver.url)
    notifications.create_webhook(
        admin,
        name="other events",
        url=receiver.url,
        events=["endpoint.off"],
        source="cli",
    )
    notifications.create_webhook(
        admin,
        name="paused",
        url=receiver.url,
        events=["build.succeeded"],
        active=False,
        source="cli",
    )
    notification = outbox.emit("build.succeeded", BUILD)

    planned = delivery.plan_deliveries(notification.pk)

    assert [WebhookDelivery.objects.get(pk=pk).webhook for pk in planned] == [asked]
    notification.refresh_from_db()
    assert notification.dispatched_at is not None


def test_a_receiver_that_is_down_is_retried_and_then_delivered_once(
    admin, receiver, fast_retries
):
    receiver.stop()  # its port now refuses connections
    make_webhook(admin, receiver.url)
    sent = planned_delivery()

    refused = delivery.deliver(str(sent.pk))
    sent.refresh_from_db()
    assert (refused.state, refused.retry_in) == (State.RETRYING, 0)
    assert (sent.tries, sent.response_code) == (1, None)
    assert "refused" in sent.last_error

    receiver.plan(500)
    receiver.start()
    answered_500 = delivery.deliver(str(sent.pk))
    sent.refresh_from_db()
    assert answered_500.state == State.RETRYING
    assert (sent.tries, sent.response_code) == (2, 500)
    assert "500" in sent.last_error

    delivered = delivery.deliver(str(sent.pk))
    after = delivery.deliver(str(sent.pk))

    assert (delivered.state, after.sent) == (State.DELIVERED, False)
    sent.refresh_from_db()
    assert (sent.state, sent.tries, sent.response_code) == (State.DELIVERED, 3, 200)
    assert [r.answer for r in receiver.received] == [500, 200]
    assert len(receiver.delivered()) == 1
    assert all(r.delivery_id == str(sent.pk) for r in receiver.received)


@pytest.mark.parametrize("mid_delivery", [CLOSE, HANG])
def test_a_receiver_stopped_in_the_middle_of_a_delivery_gets_it_again_once(
    admin, receiver, fast_retries, mid_delivery
):
    """CLOSE: it reads the POST and hangs up without an answer. HANG: it reads
    it and never answers (past the 1 s timeout)."""
    make_webhook(admin, receiver.url)
    sent = planned_delivery()
    receiver.plan(mid_delivery)

    cut = delivery.deliver(str(sent.pk))
    sent.refresh_from_db()
    assert cut.state == State.RETRYING
    assert sent.response_code is None
    assert sent.last_error

    delivered = delivery.deliver(str(sent.pk))

    assert delivered.state == State.DELIVERED
    assert delivery.deliver(str(sent.pk)).sent is False
    assert [r.answer for r in receiver.received] == [mid_delivery, 200]
    assert len(receiver.delivered()) == 1


def test_a_delivery_gives_up_after_8_tries(admin, receiver, fast_retries):
    receiver.default = 503
    make_webhook(admin, receiver.url)
    sent = planned_delivery()

    states = [delivery.deliver(str(sent.pk)).state for _ in range(9)]

    assert states == [State.RETRYING] * 7 + [State.FAILED, State.FAILED]
    assert len(receiver.received) == 8
    sent.refresh_from_db()
    assert (sent.state, sent.tries, sent.response_code) == (State.FAILED, 8, 503)
    assert delivery.due_ids() == []


def test_the_waits_between_tries_go_from_1_minute_to_1_hour(settings):
    settings.DCHWEB_WEBHOOK_RETRY_SECONDS = 60

    waits = [delivery.retry_wait(tries) for tries in range(1, 8)]

    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60)]


def test_a_retry_is_not_sent_before_its_time(admin, receiver, settings):
    settings.DCHWEB_WEBHOOK_RETRY_SECONDS = 60
    receiver.plan(500)
    make_webhook(admin, receiver.url)
    sent = planned_delivery()

    first = delivery.deliver(str(sent.pk))
    early = delivery.deliver(str(sent.pk))

    assert first.retry_in == 60
    assert (early.sent, early.state) == (False, State.RETRYING)
    assert delivery.due_ids() == []
    assert len(receiver.received) == 1
    later = timezone.now() + timedelta(seconds=61)
    assert delivery.due_ids(now=later) == [str(sent.pk)]


def test_a_delivery_whose_sender_died_is_taken_up_when_its_lease_ends(admin, receiver):
    make_webhook(admin, receiver.url)
    sent = planned_delivery()
    # A sender claimed it (a try counted) and died before any answer.
    WebhookDelivery.objects.filter(pk=sent.pk).update(
        state=State.SENDING, tries=1, lease_until=timezone.now() + timedelta(minutes=1)
    )
    assert delivery.deliver(str(sent.pk)).sent is False  # its lease still holds
    WebhookDelivery.objects.filter(pk=sent.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )

    assert delivery.due_ids() == [str(sent.pk)]
    assert delivery.deliver(str(sent.pk)).state == State.DELIVERED
    sent.refresh_from_db()
    assert sent.tries == 2
    assert len(receiver.delivered()) == 1


def test_a_redelivery_is_a_new_delivery_with_a_new_id(admin, receiver):
    make_webhook(admin, receiver.url)
    first = planned_delivery()
    delivery.deliver(str(first.pk))

    again = notifications.redeliver(admin, first, source="cli")
    delivery.deliver(str(again.pk))

    assert again.pk != first.pk
    assert again.redelivery_of_id == first.pk
    again.refresh_from_db()
    assert (again.state, again.tries) == (State.DELIVERED, 1)
    ids = [r.delivery_id for r in receiver.received]
    assert ids == [str(first.pk), str(again.pk)]
    assert receiver.received[0].json == receiver.received[1].json
    assert all(r.signature_ok for r in receiver.received)


def test_a_deleted_webhook_is_sent_nothing_more(admin, receiver):
    webhook = make_webhook(admin, receiver.url)
    sent = planned_delivery()

    notifications.delete_webhook(admin, webhook, source="cli")

    assert delivery.deliver(str(sent.pk)).sent is False
    assert receiver.received == []
    assert not Notification.objects.get().deliveries.exists()


def test_a_paused_webhooks_deliveries_wait_until_it_is_resumed(admin, receiver):
    webhook = make_webhook(admin, receiver.url)
    sent = planned_delivery()
    notifications.update_webhook(admin, webhook, active=False, source="cli")

    paused = delivery.deliver(str(sent.pk))

    assert (paused.sent, paused.state, delivery.due_ids()) == (False, State.PENDING, [])
    notifications.update_webhook(admin, webhook, active=True, source="cli")
    assert delivery.deliver(str(sent.pk)).state == State.DELIVERED
    assert len(receiver.delivered()) == 1
