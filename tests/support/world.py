"""The devstack as dchweb rows (its endpoint, its registry) and the cast's users
and API tokens (the fixtures in tests/conftest.py use these)."""

from django.contrib.auth.models import Group

from hosts.accounts import commands as accounts
from hosts.core.permissions import ADMINS_GROUP, DEVELOPERS_GROUP
from hosts.models import Endpoint, Registry


def devstack_endpoint(devstack, **overrides):
    values = {
        "docker_url": devstack["docker_url"],
        "tls_mode": Endpoint.TlsMode.NONE,
        "publish_host": "127.0.0.1",
        "network": devstack["network"],
        "default_image": devstack["image"],
        "health": Endpoint.Health.ON,
        "flavor": Endpoint.Flavor.DOCKER,
    }
    values.update(overrides)
    return Endpoint.objects.create(name=values.pop("name", "devstack"), **values)


def unreachable_endpoint(name="local", **overrides):
    """An endpoint row whose engine nobody can reach: for tests that never
    talk to an engine (or stub the one call they make)."""
    values = {
        "docker_url": f"unix:///nonexistent/{name}.sock",
        "tls_mode": Endpoint.TlsMode.NONE,
        "publish_host": "127.0.0.1",
        "health": Endpoint.Health.ON,
    }
    values.update(overrides)
    return Endpoint.objects.create(name=name, **values)


def devstack_registry(devstack, *, with_ca=True, password=None):
    registry = Registry(
        name=devstack["registry"],
        address=devstack["registry"],
        project="default-project",
        ca_pem=devstack["registry_ca"].decode() if with_ca else "",
        username=devstack["registry_user"],
    )
    registry.set_password(password or devstack["registry_password"])
    registry.save()
    return registry


def user(django_user_model, username, group):
    """A user in one of the groups the migrations make (`developers`, `admins`),
    its password `<username>-password-1`. The groups are made first: a
    transactional test flushes the ones the migrations made."""
    accounts.ensure_groups()
    made = django_user_model.objects.create_user(
        username, password=f"{username}-password-1"
    )
    made.groups.add(Group.objects.get(name=group))
    return made


def developer(django_user_model, username="alice"):
    return user(django_user_model, username, DEVELOPERS_GROUP)


def admin(django_user_model, username="root"):
    """A member of the admins group (not a superuser: the group is what counts)."""
    return user(django_user_model, username, ADMINS_GROUP)


def api_token(user, name="tests"):
    """The plaintext of a new API token for `user`."""
    _, plaintext = accounts.create_api_token(user, name, actor=None, source="cli")
    return plaintext


def api_client(user):
    """A test client that calls the API with a new token of `user`'s."""
    from django.test import Client

    return Client(HTTP_AUTHORIZATION=f"Bearer {api_token(user)}")
