"""A registry is checked as soon as it is added, and again once a change
makes its results about another registry: until then it says "Checking…",
never a result that no longer holds."""

import pytest
from django.utils import timezone

from hosts.models import Endpoint, Registry, RegistryTrust
from hosts.registries import commands as registries
from hosts.registries import tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    sent = []
    monkeypatch.setattr(
        tasks.check_unchecked_registries, "delay", lambda: sent.append("checks")
    )
    return sent


def test_an_added_registry_is_checked_once_it_is_saved(
    queued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        registries.create_registry(
            None, name="harbor", address="harbor.test:5443", source="cli"
        )

    assert queued == ["checks"]


def test_a_new_address_forgets_the_old_results_and_checks_again(
    queued, django_capture_on_commit_callbacks
):
    registry = Registry.objects.create(
        name="harbor",
        address="harbor.test:5443",
        last_check_at=timezone.now(),
        last_check_ok=True,
        last_check_reason="ok",
    )
    endpoint = Endpoint.objects.create(name="local", docker_url="unix:///x.sock")
    RegistryTrust.objects.create(
        endpoint=endpoint, registry=registry, ok=True, reason="ok"
    )

    with django_capture_on_commit_callbacks(execute=True):
        registries.update_registry(None, registry, project="team-b", source="cli")
    assert queued == []  # the project is no part of reaching it

    with django_capture_on_commit_callbacks(execute=True):
        registries.update_registry(
            None, registry, address="harbor.test:5444", source="cli"
        )

    registry.refresh_from_db()
    assert registry.last_check_ok is None and registry.last_check_at is None
    assert not RegistryTrust.objects.filter(registry=registry).exists()
    assert queued == ["checks"]
