"""Celery tasks of the deployments. Task names stay `hosts.tasks.<name>`."""

from celery import shared_task

from hosts.deployments import runner
from hosts.lib import logcontext


@shared_task(name="hosts.tasks.deploy")
def deploy(deployment_id: str) -> str:
    with logcontext.bound(deployment=deployment_id):
        return runner.run(deployment_id)


@shared_task(
    bind=True,
    autoretry_for=(Exception,),
    retry_backoff=5,
    max_retries=12,
    name="hosts.tasks.remove_deployment",
)
def remove_deployment(self, deployment_id: str) -> str:
    """Retried with back-off while the endpoint does not answer."""
    with logcontext.bound(deployment=deployment_id):
        return runner.remove(deployment_id)
