"""Fault tests: each breaks one real part mid-work, then checks that the
system settles without a person and that the engine holds exactly what the
database says. Each is bounded in time and repairs what it broke."""

import os
import signal
import uuid

import pytest

from dchweb.celery import app
from tests.conftest import start_celery_worker, stop_process


class KillableWorker:
    """A worker on a queue of its own, that a test can SIGKILL and restart as
    the same node (as a supervisor would)."""

    def __init__(self, queue):
        self.queue = queue
        self.process = None

    def start(self, log_name="fault-worker"):
        self.process = start_celery_worker(self.queue, log_name=log_name)
        return self

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        if self.process is not None:
            stop_process(self.process)


@pytest.fixture
def worker():
    """Tasks go to a queue only this test's worker listens on."""
    queue = f"dchweb-fault-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    killable = KillableWorker(queue)
    yield killable
    killable.stop()
    app.conf.task_default_queue = previous
