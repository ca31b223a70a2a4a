"""Fixtures for the unit tests: a cast of users and API tokens.

alice is a developer, root an admin through the `admins` group (not a
superuser), so the tests exercise the group rule rather than is_superuser.
"""

import pytest
from django.contrib.auth.models import Group

from hosts.accounts import commands as accounts


@pytest.fixture
def developer(django_user_model):
    user = django_user_model.objects.create_user("alice", password="alice-password-1")
    user.groups.add(Group.objects.get(name="developers"))
    return user


@pytest.fixture
def team_admin(django_user_model):
    user = django_user_model.objects.create_user("root", password="root-password-1")
    user.groups.add(Group.objects.get(name="admins"))
    return user


def _token_for(user):
    _, plaintext = accounts.create_api_token(user, "tests", actor=None, source="cli")
    return plaintext


@pytest.fixture
def developer_token(developer):
    return _token_for(developer)


@pytest.fixture
def admin_token(team_admin):
    return _token_for(team_admin)


@pytest.fixture
def api_get(client):
    """GET an API path with an optional bearer token."""

    def get(path, token=None, **extra):
        if token is not None:
            extra["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client.get(path, **extra)

    return get
