"""Celery task names are part of an upgrade: messages already queued and the
beat schedule name tasks as `hosts.tasks.<name>`, whichever domain module now
defines them. A worker that does not know a queued name drops the work."""

from django.conf import settings

from dchweb.celery import app

# Every task a queue or the beat schedule may hold, as named before the tasks
# moved into their domains' packages.
NAMES_IN_QUEUES = {
    "hosts.tasks.check_registry_trust",
    "hosts.tasks.deploy",
    "hosts.tasks.execute_cleanup",
    "hosts.tasks.probe_endpoint",
    "hosts.tasks.probe_endpoints",
    "hosts.tasks.provision_build_host",
    "hosts.tasks.reconcile_endpoint",
    "hosts.tasks.reconcile_endpoints",
    "hosts.tasks.record_heartbeat",
    "hosts.tasks.refresh_volumes",
    "hosts.tasks.remove_build_host",
    "hosts.tasks.remove_deployment",
    "hosts.tasks.run_build",
}


def _registered_names():
    # What a worker registers at start: the autodiscovered tasks modules.
    app.loader.import_default_modules()
    return {name for name in app.tasks if name.startswith("hosts.")}


def test_a_worker_knows_every_task_name_a_queue_may_hold():
    assert _registered_names() >= NAMES_IN_QUEUES


def test_every_task_keeps_the_hosts_tasks_prefix():
    outside = {n for n in _registered_names() if not n.startswith("hosts.tasks.")}
    assert outside == set()


def test_every_beat_entry_names_a_registered_task():
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled
    assert scheduled <= _registered_names()
