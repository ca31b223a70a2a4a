"""The devstack's sign-in directory for the browser's sign-in tests."""

import pytest

from tests.support.directory import devstack_directory


@pytest.fixture
def directory():
    """The devstack's OpenLDAP; the people a test adds to it are removed after."""
    found = devstack_directory()
    yield found
    found.remove_added()
