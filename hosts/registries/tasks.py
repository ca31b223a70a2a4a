"""Celery tasks of the registries. Task names stay `hosts.tasks.<name>`."""

from celery import shared_task

from hosts.registries import trust


@shared_task(name="hosts.tasks.check_registry_trust")
def check_registry_trust() -> int:
    """The trust matrix: can each endpoint's engine log in to each registry?"""
    return trust.check_trust_all()


@shared_task(name="hosts.tasks.check_unchecked_registries")
def check_unchecked_registries() -> int:
    """Registries never checked and trust pairs with no result yet: right
    after one is added, when the dashboard starts, and in the periodic pass,
    so no page says "Checking…" for longer than a pass."""
    return trust.check_unchecked()
