"""Celery tasks of the builds. Task names stay `hosts.tasks.<name>`."""

from celery import shared_task

from hosts.builds import runner
from hosts.core import leases
from hosts.lib import logcontext


@shared_task(bind=True, name="hosts.tasks.run_build")
def run_build(self, build_id: str) -> str:
    with logcontext.bound(build=build_id):
        return runner.run(build_id, leases.worker_identity(self.request.hostname))
