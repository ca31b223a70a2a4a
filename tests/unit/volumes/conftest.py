"""Fixtures for the volume ledger's unit tests: endpoints nobody can reach
(nothing here talks to an engine) and ledger rows made directly."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.core import installation
from hosts.models import Volume
from tests.support import world

GIB = 1024**3


@pytest.fixture
def endpoint():
    return world.unreachable_endpoint()


@pytest.fixture
def other_endpoint():
    return world.unreachable_endpoint("vch-2")


@pytest.fixture
def make_volume(endpoint):
    """A ledger row; an orphaned dchweb volume of this installation unless
    told otherwise."""

    def make(name, **fields):
        status = fields.pop("status", Volume.Status.ORPHANED)
        managed = fields.pop("managed", status == Volume.Status.ORPHANED)
        defaults = {
            "endpoint": fields.pop("on", endpoint),
            "name": name,
            "status": status,
            "managed": managed,
            "installation": installation.installation_id() if managed else "",
            "owner_name": "alice" if managed else "",
            "role": "docker-data" if managed else "",
            "size_bytes": GIB,
            "size_measured_at": timezone.now() - timedelta(minutes=5),
            "created_on_engine": timezone.now() - timedelta(days=3),
            "detached_since": None
            if status == Volume.Status.IN_USE
            else timezone.now() - timedelta(days=1),
        }
        defaults.update(fields)
        return Volume.objects.create(**defaults)

    return make


@pytest.fixture
def admin_client(client, admin):
    client.force_login(admin)
    return client
