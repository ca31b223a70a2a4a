"""Fixtures the integration tests share across domains."""

import pytest

from hosts.models import BuildHost
from tests.support.hostcheck import new_host, wait_settled


@pytest.fixture
def ready_host(celery_worker, endpoint, registry, developer, leftovers):
    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    assert host.state == BuildHost.State.READY, host.error
    return host
