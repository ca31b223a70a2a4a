"""/account/notifications/ in Chromium: a developer turns one event's mail
off (a double click saves once), the choice holds after a reload, and the
page lists what they were told in words."""

import pytest

from hosts.models import NotificationSettings
from hosts.notifications import mail
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

READY_BOX = "input[name=mailed][value='build_host.ready']"


def test_a_developer_turns_off_one_event_and_it_stays_off(live_server, page, developer):
    developer.email = "alice@example.test"
    developer.save(update_fields=["email"])
    mail.Notification.objects.create(
        event="build.failed",
        object={"tag": "registry.test/app:1", "error": "no space left"},
        owner=developer,
        mail_state="sent",
    )
    sign_in(page, live_server, "alice", "alice-password-1")
    page.click("header >> text=Notifications")
    page.wait_for_url(f"{live_server.url}/account/notifications/")
    assert "alice@example.test" in page.locator("#notification-settings").text_content()
    recent = page.locator("#notification-recent").text_content()
    assert "The build of registry.test/app:1 failed: no space left." in recent
    # A developer chooses among their own events only.
    assert page.locator("input[name=mailed][value='endpoint.off']").count() == 0
    assert page.locator(READY_BOX).is_checked()

    page.uncheck(READY_BOX)
    page.dblclick("button:text('Save')")

    page.locator("#notification-settings [role=status]").wait_for()
    page.wait_for_function(until("!document.querySelector('.htmx-request')"))
    assert NotificationSettings.objects.get(user=developer).muted_events == [
        "build_host.ready"
    ]
    page.reload()
    assert not page.locator(READY_BOX).is_checked()
    assert page.locator("input[name=mailed][value='build.failed']").is_checked()
