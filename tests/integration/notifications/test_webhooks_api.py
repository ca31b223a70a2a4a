"""/api/v1/webhooks: admins add, change and delete webhooks, read their
delivery logs and send a delivery again; the secret is shown once; a
developer is refused (403) on every route whatever they send; bad input is a
clear 400. And end to end: an event emitted in a committed transaction
reaches a real receiver through the real Celery worker."""

import json
import uuid

import pytest
from django.db import transaction

from hosts.models import AuditEvent, Webhook, WebhookDelivery
from hosts.notifications import commands as notifications
from hosts.notifications import delivery, outbox
from hosts.web.submissions import new_submission_key
from tests.support.receiver import Receiver
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

SECRET = "the-receivers-shared-secret"
HOOK = {
    "name": "ci",
    "url": "https://ci.example.com/hooks/dchweb",
    "events": ["build.succeeded", "build.failed"],
    "format": "generic",
}


def call(client, method, path, token, body=None):
    kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if method == "GET":
        # A GET's "body" is its query string.
        kwargs["data"] = body if isinstance(body, dict) else None
    elif body is not None:
        kwargs["data"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
        kwargs["content_type"] = "application/json"
    return getattr(client, method.lower())(f"/api/v1{path}", **kwargs)


@pytest.fixture
def hook_with_delivery(admin):
    webhook, _ = notifications.create_webhook(
        admin, **HOOK, secret=SECRET, source="cli"
    )
    notification = outbox.emit("build.failed", {"name": "web", "error": "boom"})
    (delivery_id,) = delivery.plan_deliveries(notification.pk)
    return webhook, WebhookDelivery.objects.get(pk=delivery_id)


def test_an_admin_adds_a_webhook_and_sees_its_secret_once(client, admin_token):
    made = call(client, "POST", "/webhooks", admin_token, HOOK)

    assert made.status_code == 201, made.content
    body = made.json()
    assert len(body["secret"]) >= 32  # none given: dchweb made one
    webhook = Webhook.objects.get(pk=body["id"])
    assert webhook.get_secret() == body["secret"]
    assert body["secret"] not in webhook.secret_encrypted
    for path in ("/webhooks", f"/webhooks/{webhook.pk}"):
        shown = call(client, "GET", path, admin_token)
        assert shown.status_code == 200
        assert body["secret"] not in shown.content.decode()
        assert "secret" not in json.dumps(shown.json())
    event = AuditEvent.objects.get(action="webhook.created")
    assert body["secret"] not in json.dumps(event.details)


def test_a_given_secret_is_kept(client, admin_token):
    made = call(client, "POST", "/webhooks", admin_token, {**HOOK, "secret": SECRET})

    assert made.status_code == 201
    assert made.json()["secret"] == SECRET
    assert Webhook.objects.get().get_secret() == SECRET


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"url": "ftp://ci.example.com/x"}, "url", "http:// or https://"),
        ({"url": "not a url"}, "url", "spaces"),
        ({"url": "https:///path-only"}, "url", "no host"),
        ({"url": "http://ci.example.com:99999/"}, "url", "port"),
        ({"events": ["build.exploded"]}, "events", "no such event: build.exploded"),
        ({"events": []}, "events", "at least one event"),
        ({"secret": "too-short"}, "secret", "shorter than 16"),
        ({"name": " "}, "name", "a name is required"),
        ({"format": "xml"}, "format", "generic"),
    ],
)
def test_bad_input_is_a_clear_400(client, admin_token, change, field, words):
    refused = call(client, "POST", "/webhooks", admin_token, {**HOOK, **change})

    assert refused.status_code == 400, refused.content
    assert set(refused.json()) == {"error", "detail"}
    assert words in refused.json()["detail"]
    assert not Webhook.objects.exists()


def test_a_second_webhook_of_the_same_name_is_a_409(client, admin_token):
    assert call(client, "POST", "/webhooks", admin_token, HOOK).status_code == 201

    again = call(client, "POST", "/webhooks", admin_token, HOOK)

    assert again.status_code == 409
    assert again.json()["error"] == "webhook_exists"


def test_an_admin_changes_and_deletes_a_webhook(
    client, admin_token, hook_with_delivery
):
    webhook, _ = hook_with_delivery
    new_secret = "another-secret-of-16-or-more"

    changed = call(
        client,
        "PATCH",
        f"/webhooks/{webhook.pk}",
        admin_token,
        {"events": ["endpoint.off"], "active": False, "secret": new_secret},
    )

    assert changed.status_code == 200, changed.content
    assert (changed.json()["events"], changed.json()["active"]) == (
        ["endpoint.off"],
        False,
    )
    assert "secret" not in changed.json()
    webhook.refresh_from_db()
    assert webhook.get_secret() == new_secret
    event = AuditEvent.objects.get(action="webhook.updated")
    assert event.details == {"fields": ["active", "events", "secret"]}

    gone = call(client, "DELETE", f"/webhooks/{webhook.pk}", admin_token)

    assert gone.status_code == 204
    assert not Webhook.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert (
        call(client, "GET", f"/webhooks/{webhook.pk}", admin_token).status_code == 404
    )


def test_the_delivery_log_and_a_redelivery(client, admin_token, hook_with_delivery):
    webhook, first = hook_with_delivery

    log = call(client, "GET", f"/webhooks/{webhook.pk}/deliveries", admin_token)
    sent_again = call(
        client,
        "POST",
        f"/webhooks/{webhook.pk}/deliveries/{first.pk}/redeliver",
        admin_token,
    )

    assert log.status_code == 200
    (row,) = log.json()
    assert row["id"] == str(first.pk)
    assert (row["event"], row["state"], row["tries"]) == ("build.failed", "pending", 0)
    assert row["response_code"] is None
    assert sent_again.status_code == 202, sent_again.content
    again = sent_again.json()
    assert again["id"] != str(first.pk)
    assert again["redelivery_of"] == str(first.pk)
    assert again["state"] == "pending"
    unknown = call(
        client,
        "POST",
        f"/webhooks/{webhook.pk}/deliveries/{uuid.uuid4()}/redeliver",
        admin_token,
    )
    assert unknown.status_code == 404


def test_a_developer_is_refused_on_every_route_whatever_they_send(
    client, developer_token, hook_with_delivery
):
    webhook, first = hook_with_delivery
    routes = [
        ("GET", "/webhooks"),
        ("POST", "/webhooks"),
        ("GET", f"/webhooks/{webhook.pk}"),
        ("PATCH", f"/webhooks/{webhook.pk}"),
        ("DELETE", f"/webhooks/{webhook.pk}"),
        ("GET", f"/webhooks/{webhook.pk}/deliveries"),
        ("POST", f"/webhooks/{webhook.pk}/deliveries/{first.pk}/redeliver"),
        ("GET", "/webhooks/999999"),
        ("POST", "/webhooks/999999/deliveries/not-a-uuid/redeliver"),
    ]
    for method, path in routes:
        for body in (None, HOOK, '{"url": ', {"events": "x", "secret": 1}):
            answer = call(client, method, path, developer_token, body)
            assert answer.status_code == 403, (method, path, body, answer.content)
            assert answer.json()["error"] == "forbidden"
    assert Webhook.objects.count() == 1
    assert WebhookDelivery.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_an_event_reaches_the_receiver_through_the_worker(celery_worker, admin):
    receiver = Receiver(SECRET).start()
    try:
        notifications.create_webhook(
            admin,
            name="end to end",
            url=receiver.url,
            events=["build.succeeded"],
            secret=SECRET,
            source="cli",
        )
        with transaction.atomic():
            notification = outbox.emit(
                "build.succeeded", {"name": "web", "summary": "web:1.0 built"}
            )

        wait_until(lambda: receiver.received, "the receiver to get the event", 60)
        sent = wait_until(
            lambda: WebhookDelivery.objects.filter(
                state=WebhookDelivery.State.DELIVERED
            ).first(),
            "the delivery to be recorded as delivered",
            30,
        )
    finally:
        receiver.stop()
    (got,) = receiver.received
    assert got.signature_ok
    assert got.delivery_id == str(sent.pk)
    assert got.json["event"] == "build.succeeded"
    assert got.json["object"] == {"name": "web", "summary": "web:1.0 built"}
    assert sent.notification_id == notification.pk
    assert (sent.tries, sent.response_code) == (1, 200)


def test_a_developer_gets_403_on_the_pages(client, developer, hook_with_delivery):
    webhook, first = hook_with_delivery
    client.force_login(developer)
    pages = [
        ("get", "/webhooks/"),
        ("post", "/webhooks/"),
        ("get", f"/webhooks/{webhook.pk}/"),
        ("get", f"/webhooks/{webhook.pk}/delete/"),
        ("post", f"/webhooks/{webhook.pk}/delete/"),
        ("post", f"/webhooks/{webhook.pk}/deliveries/{first.pk}/redeliver"),
        ("post", f"/webhooks/{webhook.pk}/active/"),
    ]
    for method, path in pages:
        answer = getattr(client, method)(path, {"name": "x", "url": "ftp://x"})
        assert answer.status_code == 403, (method, path)
    assert Webhook.objects.count() == 1
    assert Webhook.objects.get().active
    assert WebhookDelivery.objects.count() == 1


def test_an_admin_pauses_and_resumes_a_webhook_from_its_page(
    client, admin, hook_with_delivery
):
    webhook, _ = hook_with_delivery
    client.force_login(admin)
    url = f"/webhooks/{webhook.pk}/active/"

    paused = [client.post(url, {"active": "false"}, follow=True) for _ in range(2)]

    webhook.refresh_from_db()
    assert not webhook.active
    page = paused[0].content.decode()
    assert "Nothing is sent to" in page and "Resume sending" in page
    # Clicked twice: changed once, audited once.
    changes = AuditEvent.objects.filter(
        action="webhook.updated", object_id=str(webhook.pk)
    )
    assert changes.count() == 1

    resumed = client.post(url, {"active": "true"}, follow=True)

    webhook.refresh_from_db()
    assert webhook.active
    assert "Pause sending" in resumed.content.decode()
    assert changes.count() == 2


def test_a_redeliver_clicked_twice_sends_one_delivery(
    client, admin, hook_with_delivery
):
    webhook, first = hook_with_delivery
    client.force_login(admin)
    url = f"/webhooks/{webhook.pk}/deliveries/{first.pk}/redeliver"
    form = {"submission_key": new_submission_key()}

    answers = [client.post(url, form, HTTP_HX_REQUEST="true") for _ in range(2)]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert WebhookDelivery.objects.filter(redelivery_of=first).count() == 1
    again = WebhookDelivery.objects.get(redelivery_of=first)
    assert all(f"delivery-{again.pk}" in a.content.decode() for a in answers)
    # The key again after what it made is gone: said in words, nothing sent.
    again.delete()
    late = client.post(url, form, HTTP_HX_REQUEST="true")
    assert late.status_code == 409
    assert "This form was sent before" in late.content.decode()
    assert not WebhookDelivery.objects.filter(redelivery_of=first).exists()
