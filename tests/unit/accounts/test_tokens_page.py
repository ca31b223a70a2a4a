"""/account/tokens/: a person's own API tokens as a page: listed, made (the
secret on that answer only), made once for a form posted twice, revoked."""

import re

import pytest

from hosts.accounts import commands as accounts
from hosts.models import ApiToken, AuditEvent

pytestmark = pytest.mark.django_db

PAGE = "/account/tokens/"
SECRET = re.compile(r"dchw_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}")


def form_key(client) -> str:
    page = client.get(PAGE).content.decode()
    return re.search(r'name="submission" value="([^"]+)"', page).group(1)


def make(client, key, **fields):
    data = {"name": "laptop", "scope": "read", "expires_days": "30"}
    data.update(fields, submission=key)
    return client.post(PAGE, data)


def test_a_visitor_is_sent_to_sign_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_i_see_my_tokens_only(client, developer, other_developer):
    accounts.create_api_token(developer, "mine", actor=None, source="cli")
    accounts.create_api_token(other_developer, "theirs", actor=None, source="cli")
    client.force_login(developer)

    page = client.get(PAGE).content.decode()

    assert "mine" in page
    assert "theirs" not in page


def test_a_made_token_shows_its_secret_on_that_answer_only(client, developer):
    client.force_login(developer)

    response = make(client, form_key(client))

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    (secret,) = SECRET.findall(response.content.decode())
    stored = ApiToken.objects.get(user=developer)
    assert (stored.name, stored.scope, stored.read_only) == ("laptop", "read", True)
    assert (
        client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").json()[
            "username"
        ]
        == developer.get_username()
    )
    assert not SECRET.findall(client.get(PAGE).content.decode())
    event = AuditEvent.objects.get(action="api_token.created")
    assert (event.actor, event.source) == (developer, "ui")


def test_a_form_posted_twice_makes_one_token(client, developer):
    client.force_login(developer)
    key = form_key(client)

    first = make(client, key)
    again = make(client, key)

    assert first.status_code == 200 and again.status_code == 409
    assert ApiToken.objects.filter(user=developer).count() == 1
    answer = again.content.decode()
    assert "made its token already" in answer
    assert not SECRET.findall(answer)
    # The form shown with that answer is a fresh one: it makes another.
    assert make(client, form_key(client)).status_code == 200
    assert ApiToken.objects.filter(user=developer).count() == 2


def test_two_people_may_post_the_same_key(client, developer, other_developer):
    for person in (developer, other_developer):
        client.force_login(person)
        assert make(client, "same-key").status_code == 200

    assert ApiToken.objects.count() == 2


def test_a_refused_form_says_why_in_words_on_the_form(client, developer, settings):
    settings.DCHWEB_API_TOKEN_MAX_DAYS = 30
    client.force_login(developer)

    response = make(client, form_key(client), name=" ", expires_days="31")

    assert response.status_code == 400
    page = response.content.decode()
    assert "less than or equal to 30" in page
    assert ApiToken.objects.count() == 0


def test_i_revoke_my_token_and_it_stops_working(client, developer):
    api_token, plaintext = accounts.create_api_token(
        developer, "ci", actor=None, source="cli"
    )
    client.force_login(developer)

    response = client.post(f"{PAGE}{api_token.pk}/revoke")

    assert response.status_code == 302
    api_token.refresh_from_db()
    assert api_token.state == "revoked"
    me = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert me.status_code == 401
    assert "Revoked" in client.get(PAGE).content.decode()


@pytest.mark.parametrize("who", ["other_developer", "admin"])
def test_anothers_token_cannot_be_revoked_here(client, request, developer, who):
    api_token, _ = accounts.create_api_token(developer, "ci", actor=None, source="cli")
    client.force_login(request.getfixturevalue(who))

    response = client.post(f"{PAGE}{api_token.pk}/revoke")

    assert response.status_code == 404
    api_token.refresh_from_db()
    assert api_token.state == "active"


def test_revoking_needs_a_post(client, developer):
    api_token, _ = accounts.create_api_token(developer, "ci", actor=None, source="cli")
    client.force_login(developer)

    assert client.get(f"{PAGE}{api_token.pk}/revoke").status_code == 405
    api_token.refresh_from_db()
    assert api_token.state == "active"


def test_the_navigation_links_the_tokens_and_the_api_docs(client, developer):
    client.force_login(developer)

    page = client.get("/").content.decode()

    assert f'href="{PAGE}"' in page
    assert 'href="/api/v1/docs"' in page
