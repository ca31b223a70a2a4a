"""Fixtures for the bad-input suite: API tokens for an admin and a developer,
and a Celery queue of the test's own, so tasks the fuzzed requests enqueue
wait there (no worker listens on it) and a `make run` worker never takes them.
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
def data_dir(settings, tmp_path):
    """Uploaded contexts and build logs land in the test's own folder."""
    settings.DCHWEB_DATA_DIR = tmp_path / "data"
    return settings.DCHWEB_DATA_DIR


def token_for(user):
    from hosts.accounts import commands as accounts

    _, plaintext = accounts.create_api_token(user, "badinput", actor=None, source="cli")
    return plaintext


@pytest.fixture
def admin_token(admin):
    return token_for(admin)


@pytest.fixture
def developer_token(developer):
    return token_for(developer)
