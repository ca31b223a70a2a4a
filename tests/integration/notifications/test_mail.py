"""Notifications by mail, through a real SMTP server on 127.0.0.1: to whom
it concerns, once, by their choices; a server down fails the try with its
reason, and the periodic pass tries again a few times at most."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from hosts.models import Notification, NotificationSettings
from hosts.notifications import mail, outbox, tasks
from tests.support.mail import SmtpServer, body_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

READY = "build_host.ready"
HOST = {
    "id": "6f1c",
    "name": "web-1",
    "owner": "alice",
    "endpoint": "vch-1",
    "url": "/build-hosts/6f1c/",
}


@pytest.fixture
def smtp(settings):
    server = SmtpServer()
    server.start()
    server.use_in(settings)
    yield server
    server.stop()


@pytest.fixture
def alice(developer):
    developer.email = "alice@example.test"
    developer.save(update_fields=["email"])
    return developer


def _state(notification):
    notification.refresh_from_db()
    return notification.mail_state


def test_the_owner_is_mailed_once_however_often_the_task_runs(smtp, alice):
    notification = outbox.emit(READY, HOST, owner=alice)

    tasks.dispatch_notification(notification.pk)
    tasks.dispatch_notification(notification.pk)

    [message] = smtp.to("alice@example.test")
    assert message["Subject"] == "dchweb: web-1: build host ready"
    body = body_of(message)
    assert "Build host web-1 is ready on vch-1." in body
    assert "/build-hosts/6f1c/" in body
    assert _state(notification) == Notification.MailState.SENT


def test_a_muted_event_is_not_mailed_and_the_others_are(smtp, alice):
    NotificationSettings.objects.create(user=alice, muted_events=[READY])
    muted = outbox.emit(READY, HOST, owner=alice)
    wanted = outbox.emit("build.failed", {"tag": "app:1", "error": "no"}, owner=alice)

    mail.send_for(muted.pk)
    mail.send_for(wanted.pk)

    assert _state(muted) == Notification.MailState.NONE
    assert [m["Subject"] for m in smtp.messages] == ["dchweb: app:1: build failed"]
    assert _state(wanted) == Notification.MailState.SENT


def test_no_address_means_no_mail(smtp, developer):
    notification = outbox.emit(READY, HOST, owner=developer)
    assert mail.send_for(notification.pk) == Notification.MailState.NONE
    assert smtp.messages == []


def test_admin_events_reach_each_admin_by_their_own_choice(
    smtp, alice, admin, django_user_model
):
    admin.email = "root@example.test"
    admin.save(update_fields=["email"])
    quiet = django_user_model.objects.create_user(
        "quiet", email="quiet@example.test", password="quiet-password-1"
    )
    quiet.groups.add(Group.objects.get(name="admins"))
    NotificationSettings.objects.create(user=quiet, muted_events=["endpoint.off"])
    notification = outbox.emit("endpoint.off", {"name": "vch-1", "error": "gone"})

    mail.send_for(notification.pk)

    [message] = smtp.to("root@example.test")
    assert "Endpoint vch-1 stopped answering: gone" in body_of(message)
    # One message each: nobody else is on it, nobody else got one.
    assert message["To"] == "root@example.test"
    assert smtp.to("quiet@example.test") == []
    assert smtp.to("alice@example.test") == []


def test_a_server_down_fails_the_try_with_why_and_the_pass_retries_a_few_times(
    smtp, alice, settings
):
    settings.DCHWEB_MAIL_MAX_TRIES = 2
    smtp.stop()
    notification = outbox.emit(READY, HOST, owner=alice)

    mail.send_for(notification.pk)
    assert _state(notification) == Notification.MailState.FAILED
    assert notification.mail_error.startswith("Try 1 of 2: the mail server refused")

    # The periodic pass: back to pending once (a second pass takes nothing
    # more), then sent when the server is back.
    assert mail.retry_failed() == [notification.pk]
    assert mail.retry_failed() == []
    smtp.start()
    mail.send_for(notification.pk)
    assert _state(notification) == Notification.MailState.SENT
    assert len(smtp.to("alice@example.test")) == 1


def test_after_the_last_try_the_pass_gives_up(smtp, alice, settings):
    settings.DCHWEB_MAIL_MAX_TRIES = 2
    smtp.stop()
    notification = outbox.emit(READY, HOST, owner=alice)
    mail.send_for(notification.pk)
    mail.retry_failed()
    mail.send_for(notification.pk)

    assert _state(notification) == Notification.MailState.FAILED
    assert notification.mail_error.startswith("Try 2 of 2:")
    assert mail.retry_failed() == []


def test_the_pass_finds_what_no_task_told(smtp, alice):
    lost = outbox.emit(READY, HOST, owner=alice)
    fresh = outbox.emit(READY, HOST, owner=alice)
    told = outbox.emit(READY, HOST, owner=alice)
    Notification.objects.filter(pk__in=[lost.pk, told.pk]).update(
        at=timezone.now() - timedelta(minutes=5)
    )
    tasks.dispatch_notification(told.pk)

    assert list(mail.undispatched().values_list("pk", flat=True)) == [lost.pk]
    tasks.dispatch_notification(lost.pk)
    assert mail.undispatched().count() == 0
    assert fresh.pk not in mail.undispatched().values_list("pk", flat=True)
