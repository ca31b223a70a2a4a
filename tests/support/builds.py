"""Builds through the API, as the integration, fault and browser tests ask
for them: a tag of the test's own, the upload, and the wait for the end."""

import time
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from hosts.builds import logs as buildlogs
from hosts.models import Build

BUILD_TIMEOUT = 300
# A look at one row: a finished build is seen within this, not half a second.
POLL_SECONDS = 0.1


def unique_tag(devstack, name="hello"):
    return f"{devstack['registry']}/default-project/{name}-{uuid.uuid4().hex[:8]}:1"


def post_build(client, context: bytes | None, **fields):
    data = {key: str(value) for key, value in fields.items()}
    if context is not None:
        data["context"] = SimpleUploadedFile("context.tar.gz", context)
    return client.post("/api/v1/builds", data=data)


def wait_final(build_id, timeout=BUILD_TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        build = Build.objects.get(pk=build_id)
        if build.is_final:
            return build
        time.sleep(POLL_SECONDS)
    log = buildlogs.tail(build_id)[0]
    pytest.fail(f"build stayed {build.state} for {timeout} s; log:\n{log}")
