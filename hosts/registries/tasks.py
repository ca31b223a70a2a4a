"""Celery tasks of the registries. Task names stay `hosts.tasks.<name>`."""

from celery import shared_task

from hosts.registries import trust


@shared_task(name="hosts.tasks.check_registry_trust")
def check_registry_trust() -> int:
    """The trust matrix: can each endpoint's engine log in to each registry?"""
    return trust.check_trust_all()
