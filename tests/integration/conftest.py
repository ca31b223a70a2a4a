"""Fixtures for tests that provision build hosts on the devstack."""

import pytest

from hosts import installation
from tests.support import world


@pytest.fixture
def endpoint(devstack, build_host_image):
    return world.devstack_endpoint(devstack)


@pytest.fixture
def registry(devstack):
    return world.devstack_registry(devstack)


@pytest.fixture
def developer(django_user_model):
    return world.developer(django_user_model)


@pytest.fixture
def leftovers(engine):
    """Removes whatever this test's installation left on the engine, after
    the test has had its say about it."""
    yield
    label = f"io.dchweb.installation={installation.installation_id()}"
    for container in engine.containers.list(all=True, filters={"label": label}):
        container.remove(force=True, v=True)
    for volume in engine.volumes.list(filters={"label": label}):
        volume.remove(force=True)
