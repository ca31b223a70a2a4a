"""/account/notifications/: each person's own choice and own notifications;
an admin also chooses and sees the installation's; a bad choice is a 400
that saves nothing; a form sent twice saves once."""

import re

import pytest

from hosts.models import AuditEvent, Notification, NotificationSettings

pytestmark = pytest.mark.django_db

PAGE = "/account/notifications/"


def form_key(client) -> str:
    page = client.get(PAGE).content.decode()
    return re.search(r'name="submission_key" value="([^"]+)"', page).group(1)


def test_a_visitor_is_sent_to_sign_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_i_see_my_notifications_only_and_an_admin_sees_the_admins_too(
    client, developer, other_developer, admin
):
    Notification.objects.create(
        event="build_host.ready", object={"name": "mine"}, owner=developer
    )
    Notification.objects.create(
        event="build_host.ready", object={"name": "theirs"}, owner=other_developer
    )
    Notification.objects.create(event="endpoint.off", object={"name": "vch-9"})

    client.force_login(developer)
    page = client.get(PAGE).content.decode()
    assert "Build host mine is ready." in page
    assert "theirs" not in page and "vch-9" not in page
    assert 'value="endpoint.off"' not in page
    assert "no mail address" in page

    client.force_login(admin)
    page = client.get(f"{PAGE}?part=recent").content.decode()
    assert "Endpoint vch-9 stopped answering" in page
    assert "theirs" not in page
    assert 'value="endpoint.off"' in client.get(PAGE).content.decode()


def test_a_choice_is_saved_once_for_a_form_sent_twice(client, developer):
    client.force_login(developer)
    key = form_key(client)
    data = {"mailed": ["build.failed"], "submission_key": key}

    first = client.post(PAGE, data, HTTP_HX_REQUEST="true")
    second = client.post(PAGE, data, HTTP_HX_REQUEST="true")

    assert first.status_code == second.status_code == 200
    muted = NotificationSettings.objects.get(user=developer).muted_events
    assert "build.failed" not in muted and "build_host.ready" in muted
    assert AuditEvent.objects.filter(action="notifications.chosen").count() == 1


def test_an_event_not_mine_to_choose_is_a_400_that_saves_nothing(client, developer):
    client.force_login(developer)

    response = client.post(
        PAGE, {"mailed": ["endpoint.off"], "submission_key": form_key(client)}
    )

    assert response.status_code == 400
    assert "is not one of the available choices" in response.content.decode()
    assert not NotificationSettings.objects.filter(user=developer).exists()
