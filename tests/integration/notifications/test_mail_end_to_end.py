"""From a real change to a mail, through a real Celery worker and a real
SMTP server: a build host that gets ready, a build that succeeds and one
that fails, the host removed, and a host that cannot start. Each is mailed
to its owner once, in the words of hosts/lib/event_words.py."""

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dchweb.celery import app
from hosts.buildhosts import commands as buildhosts
from hosts.models import BuildHost, Notification
from hosts.notifications import tasks as notification_tasks
from tests.conftest import start_celery_worker, stop_process
from tests.support.builds import post_build, unique_tag, wait_final
from tests.support.contexts import archive, hello_context
from tests.support.hostcheck import new_host, wait_settled
from tests.support.mail import SmtpServer, body_of
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ALICE = "alice@example.test"


@pytest.fixture(scope="module")
def smtp():
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mail_worker(smtp, django_db_setup, django_db_blocker):
    """A worker of this module's own: the session's was started before the
    SMTP server existed, and a worker reads its mail settings at start."""
    queue = f"dchweb-mail-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    with pytest.MonkeyPatch.context() as patch:
        for name, value in smtp.settings_env().items():
            patch.setenv(name, value)
        with django_db_blocker.unblock():
            worker = start_celery_worker(queue, log_name="mail-worker")
    yield worker
    stop_process(worker)
    app.conf.task_default_queue = previous


@pytest.fixture
def alice(developer, smtp):
    smtp.clear()
    developer.email = ALICE
    developer.save(update_fields=["email"])
    return developer


def _mails_about(smtp, subject_end):
    def found():
        return [m for m in smtp.to(ALICE) if m["Subject"].endswith(subject_end)]

    return wait_until(found, f"a mail ending {subject_end!r}", timeout=60)


def test_a_host_its_builds_and_its_removal_each_mail_the_owner_once(
    mail_worker, smtp, alice, developer_token, endpoint, devstack, busybox, leftovers
):
    host = wait_settled(new_host(alice, endpoint))
    assert host.state == BuildHost.State.READY, host.error
    [ready] = _mails_about(smtp, "build host ready")
    assert f"Build host {host.name} is ready on {endpoint.name}." in body_of(ready)

    as_alice = Client(HTTP_AUTHORIZATION=f"Bearer {developer_token}")
    built = post_build(
        as_alice,
        hello_context(busybox),
        tag=unique_tag(devstack),
        build_host_id=host.pk,
        push="false",
    )
    assert wait_final(built.json()["id"]).state == "succeeded"
    broken = archive({"Dockerfile": b'FROM scratch\nRUN ["/nope"]\n'})
    failed = post_build(
        as_alice, broken, tag=unique_tag(devstack), build_host_id=host.pk, push="false"
    )
    assert wait_final(failed.json()["id"]).state == "failed"
    [succeeded_mail] = _mails_about(smtp, "build succeeded")
    [failed_mail] = _mails_about(smtp, "build failed")
    assert "succeeded." in body_of(succeeded_mail)
    assert "failed: " in body_of(failed_mail)

    buildhosts.request_removal(alice, host, "delete", source="api")
    [removed] = _mails_about(smtp, "build host removed")
    assert f"Build host {host.name} was removed" in body_of(removed)

    # Once each: every notification settled as sent, and no second copy.
    events = Notification.objects.filter(owner=alice)
    assert set(events.values_list("mail_state", flat=True)) == {"sent"}
    assert len(smtp.to(ALICE)) == events.count() == 4


def test_a_host_that_cannot_start_mails_why(
    mail_worker, smtp, alice, endpoint, devstack, leftovers
):
    missing = f"{devstack['registry']}/default-project/no-such-image:1"
    host = wait_settled(new_host(alice, endpoint, image=missing))
    assert host.state == BuildHost.State.FAILED

    [failed] = _mails_about(smtp, "build host failed")
    assert f"Build host {host.name} could not be started" in body_of(failed)


def test_the_periodic_pass_tells_what_the_broker_lost_and_retries_failed_mail(
    mail_worker, smtp, alice
):
    # Rows as a lost task and a failed send leave them: nobody was told.
    long_ago = timezone.now() - timedelta(minutes=10)
    lost = Notification.objects.create(
        event="build_host.ready", object={"name": "lost-1"}, owner=alice, at=long_ago
    )
    failed = Notification.objects.create(
        event="build_host.ready",
        object={"name": "failed-1"},
        owner=alice,
        mail_state=Notification.MailState.FAILED,
        mail_error="Try 1 of 3: the mail server refused the connection",
        dispatched_at=long_ago,
    )

    assert notification_tasks.resume_notifications() == 2

    _mails_about(smtp, "lost-1: build host ready")
    _mails_about(smtp, "failed-1: build host ready")
    for notification in (lost, failed):
        notification.refresh_from_db()
        assert notification.mail_state == Notification.MailState.SENT
