"""Pulling an image onto the engine, with the registry's login."""

import dataclasses

import docker
import docker.errors

from hosts.engine.connections import open_client
from hosts.engine.errors import (
    CLIENT_ERRORS,
    EngineError,
    EngineNotFound,
    classify,
    out_of_disk,
    stream_error,
)
from hosts.engine.registry import registry_failure
from hosts.lib import failures

PULL_TIMEOUT_SECONDS = 300


def pull_image(connection, image, auth=None) -> None:
    """Pull `image` (with the registry's login); errors inside the 200 stream
    count too. (The stream ending without one is the pull done: no inspect
    after it, which would cost a request that no caller needs.)"""
    repository, tag = docker.utils.parse_repository_tag(image)
    slow = dataclasses.replace(connection, timeout=PULL_TIMEOUT_SECONDS)
    with open_client(slow) as client:
        try:
            for chunk in client.api.pull(
                repository,
                tag=tag or "latest",
                stream=True,
                decode=True,
                auth_config=auth,
            ):
                if "error" in chunk or "errorDetail" in chunk:
                    raise _pull_failure(stream_error(chunk))
        except docker.errors.APIError as error:
            raise _pull_failure(failures.full_text(error)) from error
        except CLIENT_ERRORS as e:
            raise classify(e) from e


def _pull_failure(text):
    lowered = text.lower()
    if any(needle in lowered for needle in _IMAGE_MISSING):
        return EngineNotFound(
            f"image not found: the registry has no such image or tag "
            f"({failures.first_line(text, 200)})",
            reason="image_not_found",
        )
    if "no space left" in lowered:
        return out_of_disk()
    reason, message = registry_failure(text, "the pull failed")
    return EngineError(message, reason=reason)


_IMAGE_MISSING = (
    "manifest unknown",
    "not found: manifest",
    "repository does not exist",
    "no such image",
    "name unknown",
    ": not found",
)
