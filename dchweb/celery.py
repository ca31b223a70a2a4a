"""The Celery app. Deployment values (broker, queue, beat schedule) come from
settings (`CELERY_*`); the task policy below is the same everywhere.

Tasks are idempotent and keyed by ids, so the policy favours "at least once":
a task whose worker dies is delivered again rather than lost.
"""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dchweb.settings")

# Longest provisioning or build step we accept; the soft limit lets the task
# roll back (remove what it created) before the hard limit kills it.
TASK_SOFT_TIME_LIMIT = 25 * 60
TASK_TIME_LIMIT = 30 * 60
# Redis hands an unacknowledged task to another worker after this long. With
# acks_late it must outlast the longest task, or a running task starts twice.
BROKER_VISIBILITY_TIMEOUT = 2 * TASK_TIME_LIMIT

app = Celery("dchweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_soft_time_limit=TASK_SOFT_TIME_LIMIT,
    task_time_limit=TASK_TIME_LIMIT,
    broker_transport_options={"visibility_timeout": BROKER_VISIBILITY_TIMEOUT},
    result_backend_transport_options={"visibility_timeout": BROKER_VISIBILITY_TIMEOUT},
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=24 * 60 * 60,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
# Each domain of hosts/ keeps its tasks in its own tasks.py (their names stay
# `hosts.tasks.<name>`): every package that has one is searched.
HOSTS = Path(__file__).resolve().parent.parent / "hosts"
app.autodiscover_tasks(
    sorted(f"hosts.{found.parent.name}" for found in HOSTS.glob("*/tasks.py"))
)
