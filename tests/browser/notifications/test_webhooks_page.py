"""An admin on /webhooks/ in Chromium: adds a webhook and sees its secret
once; on a webhook's page, a delivery that failed (its receiver answered 500,
8 times) is sent again with Redeliver, and the log shows the new delivery
arrive, through the real worker and a real receiver, without a reload."""

import pytest
from django.conf import settings as django_settings

from hosts.models import Notification, Webhook, WebhookDelivery
from hosts.notifications import commands as notifications
from hosts.notifications import delivery
from tests.support.browser import sign_in, until
from tests.support.receiver import Receiver

pytestmark = [
    pytest.mark.browser,
    pytest.mark.integration,
    pytest.mark.django_db(transaction=True),
]

SECRET = "the-browser-tests-secret"


@pytest.fixture
def receiver():
    receiver = Receiver(SECRET).start()
    yield receiver
    receiver.stop()


def failed_delivery(admin, receiver, settings):
    """A delivery its receiver refused (500) on every one of its 8 tries."""
    webhook, _ = notifications.create_webhook(
        admin,
        name="team chat",
        url=receiver.url,
        events=["build.failed"],
        secret=SECRET,
        source="cli",
    )
    # A row, not emitted: the worker must not send it before the test does.
    notification = Notification.objects.create(
        event="build.failed", object={"name": "web", "error": "boom"}
    )
    (delivery_id,) = delivery.plan_deliveries(notification.pk)
    receiver.default = 500
    settings.DCHWEB_WEBHOOK_RETRY_SECONDS = 0
    for _ in range(delivery.MAX_TRIES):
        delivery.deliver(delivery_id)
    settings.DCHWEB_WEBHOOK_RETRY_SECONDS = django_settings.DCHWEB_WEBHOOK_RETRY_SECONDS
    failed = WebhookDelivery.objects.get(pk=delivery_id)
    assert failed.state == WebhookDelivery.State.FAILED
    receiver.default = 200
    receiver.received.clear()
    return webhook, failed


def test_a_failed_delivery_is_redelivered_from_the_log(
    live_server, page, admin, receiver, celery_worker, settings
):
    webhook, failed = failed_delivery(admin, receiver, settings)
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/webhooks/{webhook.pk}/")

    row = page.locator(f"#delivery-{failed.pk}")
    assert row.locator(".badge").text_content().strip() == "Failed"
    assert "HTTP 500" in row.text_content()
    assert "8 of 8" in row.text_content()
    # A full reload would drop this marker; an HTMX swap keeps it.
    page.evaluate("window.dchwebMarker = 'still here'")

    row.get_by_role("button", name="Redeliver").click()

    page.wait_for_function(
        until(
            "document.querySelectorAll('#delivery-log tr[data-state]').length == 2 && "
            "document.querySelector('#delivery-log tr[data-state]')"
            ".dataset.state == 'delivered'"
        ),
        timeout=60_000,
    )
    assert page.evaluate("window.dchwebMarker") == "still here"
    newest = page.locator("#delivery-log tr[data-state]").first
    assert "sent again by hand" in newest.text_content()
    assert "HTTP 200" in newest.text_content()
    assert page.locator(f"#delivery-{failed.pk} .badge").text_content() == "Failed"
    again = WebhookDelivery.objects.exclude(pk=failed.pk).get()
    assert again.redelivery_of_id == failed.pk
    (got,) = receiver.delivered()
    assert got.signature_ok
    assert got.delivery_id == str(again.pk)


def test_an_admin_adds_a_webhook_and_sees_its_secret_once(live_server, page, admin):
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/webhooks/")

    page.get_by_text("Add a webhook").click()
    page.get_by_label("Name").fill("ci")
    page.get_by_label("URL").fill("https://ci.example.com/hooks/dchweb")
    page.get_by_label("A build failed").check()
    page.get_by_role("button", name="Add webhook").click()

    secret = page.locator("#new-webhook-secret")
    secret.wait_for()
    webhook = Webhook.objects.get()
    assert secret.text_content() == webhook.get_secret()
    assert webhook.events == ["build.failed"]
    page.reload()
    assert page.locator("#new-webhook-secret").count() == 0
    assert webhook.get_secret() not in page.content()
    assert page.locator(f"#webhook-{webhook.pk}").is_visible()
