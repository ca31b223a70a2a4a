"""The devstack as dchweb rows: its endpoint, its registry, a developer."""

from django.contrib.auth.models import Group

from hosts.accounts import commands as accounts
from hosts.core.permissions import DEVELOPERS_GROUP
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


def developer(django_user_model, username="dev", password="dev-password-1"):
    accounts.ensure_groups()
    user = django_user_model.objects.create_user(username, password=password)
    user.groups.add(Group.objects.get(name=DEVELOPERS_GROUP))
    return user
