"""Fixtures for the bad-input suite: a Celery queue of the test's own, so tasks
the fuzzed requests enqueue wait there (no worker listens on it) and a
`make run` worker never takes them.
"""

import contextlib
import uuid

import pytest

from dchweb.celery import app


@pytest.fixture(autouse=True)
def throwaway_queue():
    """Every task enqueued during the test goes to a queue nobody consumes;
    the queue is deleted from the broker afterwards."""
    queue = f"dchweb-badinput-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        app.conf.task_default_queue = previous
        with contextlib.suppress(Exception), app.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)


@pytest.fixture(autouse=True)
def data_dir(data_dir):
    """Every bad-input test has its own data folder (tests/conftest.py)."""
    return data_dir
