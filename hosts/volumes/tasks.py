"""Celery tasks of the volume ledger and clean-up plans. Task names stay
`hosts.tasks.<name>`."""

from celery import shared_task
from django.conf import settings

from hosts.core import leases
from hosts.lib import logcontext
from hosts.models import Endpoint
from hosts.volumes import budgets, caches, cleanup, ledger


@shared_task(name="hosts.tasks.refresh_volumes")
def refresh_volumes(endpoint_id: int | None = None) -> int:
    """Rescan the ledger (all endpoints, or one), then measure sizes; then
    warn the owners who crossed 80 % of their budget."""
    results = ledger.refresh_all(endpoint_id)
    for endpoint in Endpoint.objects.enabled(endpoint_id):
        ledger.measure_sizes(endpoint)
    if settings.DCHWEB_REAP_ORPHANED_VOLUMES_DAYS and endpoint_id is None:
        ledger.reap_orphaned(settings.DCHWEB_REAP_ORPHANED_VOLUMES_DAYS)
    # After the sizes: a crossing of 80 % of a budget is told once.
    budgets.warn_owners()
    return sum(result.volumes for result in results)


@shared_task(name="hosts.tasks.evict_caches")
def evict_caches() -> list[str]:
    """Each owner's build caches back under DCHWEB_CACHE_BUDGET_GB: the least
    recently used free ones removed (sizes as the ledger last measured)."""
    return caches.evict_over_budget()


@shared_task(bind=True, name="hosts.tasks.execute_cleanup")
def execute_cleanup(self, plan_id: int) -> str:
    worker = leases.worker_identity(self.request.hostname)
    with logcontext.bound(cleanup_plan=plan_id):
        return cleanup.run_plan(plan_id, worker).state
