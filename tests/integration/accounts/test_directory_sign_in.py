"""Sign-in against the devstack's real OpenLDAP (devstack/up): people appear
at their first sign-in, their groups follow the directory at every sign-in,
and a directory that does not answer leaves local accounts working."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from hosts.accounts.commands import create_api_token

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

DIRECTORY_DOWN = "Directory sign-in is unavailable right now"
WRONG = "enter a correct username and password"


def sign_in(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def groups_of(username):
    user = get_user_model().objects.get(username=username)
    return set(user.groups.values_list("name", flat=True))


def test_an_ldap_developer_signs_in_and_is_made_a_developer(client, directory):
    username, password = directory.person_only_in("developers")
    assert not get_user_model().objects.filter(username=username).exists()

    response = sign_in(client, username, password)

    assert response.status_code == 302, response.content.decode()[-2000:]
    assert response["Location"] == "/"
    user = get_user_model().objects.get(username=username)
    assert groups_of(username) == {"developers"}
    assert not user.has_usable_password()  # the directory holds the password
    assert not user.is_staff and not user.is_superuser
    assert user.email == f"{username}@dchweb.test"
    home = client.get("/")
    assert home.status_code == 200
    assert username in home.content.decode()
    assert home.context["user_is_admin"] is False


def test_an_ldap_admin_signs_in_and_is_made_an_admin(client, directory):
    username, password = directory.person_only_in("admins")

    response = sign_in(client, username, password)

    assert response.status_code == 302, response.content.decode()[-2000:]
    assert groups_of(username) == {"admins"}
    home = client.get("/")
    assert home.context["user_is_admin"] is True
    assert 'href="/audit/"' in home.content.decode()


def test_taken_out_of_the_ldap_admins_group_loses_admins_at_the_next_sign_in(
    client, directory
):
    username, password = directory.add_person(["developers", "admins"])
    assert sign_in(client, username, password).status_code == 302
    assert groups_of(username) == {"developers", "admins"}
    # A Django group the directory does not map is none of its business.
    user = get_user_model().objects.get(username=username)
    user.groups.add(Group.objects.create(name="beta-testers"))
    client.post("/accounts/logout/")

    directory.remove_member("admins", username)

    assert sign_in(client, username, password).status_code == 302
    assert groups_of(username) == {"developers", "beta-testers"}
    assert client.get("/").context["user_is_admin"] is False


def test_put_in_the_ldap_admins_group_gains_admins_at_the_next_sign_in(
    client, directory
):
    username, password = directory.add_person(["developers"])
    assert sign_in(client, username, password).status_code == 302
    assert groups_of(username) == {"developers"}
    client.post("/accounts/logout/")

    directory.add_member("admins", username)

    assert sign_in(client, username, password).status_code == 302
    assert groups_of(username) == {"developers", "admins"}


def test_someone_in_neither_group_may_not_sign_in(client, directory):
    username, password = directory.add_person([])

    response = sign_in(client, username, password)

    assert response.status_code == 200
    assert WRONG in response.content.decode()
    assert DIRECTORY_DOWN not in response.content.decode()
    assert not get_user_model().objects.filter(username=username).exists()


def test_a_wrong_directory_password_is_refused_without_blaming_the_directory(
    client, directory
):
    username, _ = directory.person_only_in("developers")

    response = sign_in(client, username, "not-the-password")

    assert response.status_code == 200
    body = response.content.decode()
    assert WRONG in body
    assert DIRECTORY_DOWN not in body
    assert "_auth_user_id" not in client.session


def test_the_directory_down_the_login_page_says_so_and_local_accounts_sign_in(
    client, directory, admin, settings, tmp_path
):
    username, password = directory.person_only_in("developers")
    # The directory's address, with nothing listening there.
    settings.AUTH_LDAP_SERVER_URI = "ldapi://" + str(tmp_path / "nobody.sock").replace(
        "/", "%2F"
    )

    response = sign_in(client, username, password)

    assert response.status_code == 200
    body = response.content.decode()
    assert DIRECTORY_DOWN in body
    assert "Local accounts still sign in" in body
    assert "_auth_user_id" not in client.session

    response = sign_in(client, "root", "root-password-1")

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(admin.pk)
    assert client.get("/").context["user_is_admin"] is True


def test_an_ldap_user_makes_an_api_token_and_uses_it(client, directory):
    username, password = directory.person_only_in("developers")
    assert sign_in(client, username, password).status_code == 302
    user = get_user_model().objects.get(username=username)

    _, plaintext = create_api_token(user, "laptop", actor=user, source="cli")
    client.post("/accounts/logout/")
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    assert response.status_code == 200, response.content
    me = response.json()
    assert me["username"] == username
    assert me["groups"] == ["developers"]
