"""Builds and pushes on a build host: `docker build`, `docker push` and
`docker tag` on its engine, their output streams, and stopping a build."""

import contextlib
import dataclasses

import docker
import docker.errors

from hosts.engine.connections import open_client
from hosts.engine.errors import (
    CLIENT_ERRORS,
    StreamFailed,
    StreamStopped,
    call,
    classify,
    stream_error,
)
from hosts.engine.registry import log_in, registry_failure, registry_said
from hosts.lib import failures

BUILD_TIMEOUT_SECONDS = 3600


@dataclasses.dataclass(frozen=True)
class BuildOptions:
    """`docker build`'s options beyond the Dockerfile and its arguments. The
    cache images must be on the engine already (pull them first): the
    classic builder only reuses layers of local images."""

    cache_from: tuple[str, ...] = ()
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    labels: tuple[tuple[str, str], ...] = ()


# Push progress ("Pushing [==>  ]") is noise in a log; these statuses are not.
_QUIET_STATUSES = ("Pushing", "Preparing", "Waiting", "Downloading", "Extracting")


def build_image(
    connection,
    context_path,
    *,
    dockerfile,
    tag,
    build_args,
    output,
    stop,
    logins=(),
    options=None,
):
    """`docker build` on the engine from a context archive on disk; every
    chunk goes to `output(text)`; `stop()` is asked between chunks. `logins`
    (auth dicts) let FROM pull from private registries; `options` are
    BuildOptions. Returns the image id. An error chunk raises StreamFailed
    with its message."""
    options = options or BuildOptions()
    slow = dataclasses.replace(connection, timeout=BUILD_TIMEOUT_SECONDS)
    image_id = ""
    with open(context_path, "rb") as context, open_client(slow) as client:
        for auth in logins:
            failed = _login_for_build(client, auth)
            if failed:
                output(f"note: login to {auth['serveraddress']} refused ({failed})\n")

        def start():
            return client.api.build(
                fileobj=context,
                custom_context=True,
                dockerfile=dockerfile,
                tag=tag or None,
                buildargs=build_args or None,
                decode=True,
                rm=True,
                forcerm=True,
                cache_from=list(options.cache_from) or None,
                target=options.target or None,
                nocache=options.no_cache,
                pull=options.pull,
                labels=dict(options.labels) or None,
            )

        for chunk in _chunks(start, stop):
            image_id = (chunk.get("aux") or {}).get("ID", image_id)
            text = chunk.get("stream") or _status_line(chunk)
            if text:
                output(text)
    if not image_id:
        raise StreamFailed("the build ended without an image id")
    return image_id


def _login_for_build(client, auth):
    """docker-py keeps a successful login in memory and sends it with the
    build (X-Registry-Config), which is how FROM pulls a private image. A
    refused login is not the build's failure (FROM may not need it): it
    returns the reason, and a pull that needed it fails on its own."""
    try:
        log_in(client, auth["username"], auth["password"], auth["serveraddress"])
    except docker.errors.APIError as error:
        return registry_said(failures.full_text(error))
    except CLIENT_ERRORS as e:
        raise classify(e) from e
    return ""


def push_image(connection, ref, auth, *, output, stop):
    """`docker push` from the engine with the registry's login. Returns the
    digest the engine reports; an error chunk raises StreamFailed."""
    repository, tag = docker.utils.parse_repository_tag(ref)
    slow = dataclasses.replace(connection, timeout=BUILD_TIMEOUT_SECONDS)
    digest = ""
    with open_client(slow) as client:

        def start():
            return client.api.push(
                repository, tag=tag, stream=True, decode=True, auth_config=auth
            )

        for chunk in _chunks(start, stop):
            digest = (chunk.get("aux") or {}).get("Digest", digest)
            text = _status_line(chunk)
            if text:
                output(text)
    if not digest:
        raise StreamFailed(f"the push of {ref} ended without a digest")
    return digest


def tag_image(connection, image_id, ref):
    repository, tag = docker.utils.parse_repository_tag(ref)
    with open_client(connection) as client:
        call(client.api.tag, image_id, repository, tag=tag, force=True)


def _chunks(start, stop):
    """The chunks of the stream `start()` opens; errors opening it or inside
    it, and stops, raise (an engine stopping can cut either)."""
    try:
        for chunk in start():
            if "error" in chunk or "errorDetail" in chunk:
                raise _stream_failure(stream_error(chunk).strip())
            yield chunk
            if stop():
                raise StreamStopped("cancelled")
    except docker.errors.APIError as error:
        raise _stream_api_failure(error) from error
    except CLIENT_ERRORS as e:
        raise classify(e) from e


def _stream_failure(text):
    """The engine's own words, with a reason when a registry is to blame."""
    reason, _ = registry_failure(text, "")
    return StreamFailed(
        text or "the engine failed", reason=None if reason == "failed" else reason
    )


def _stream_api_failure(error):
    text = failures.full_text(error)
    reason, message = registry_failure(text, "the engine refused")
    return StreamFailed(message, reason=reason)


def _status_line(chunk):
    status = chunk.get("status")
    if not status or status in _QUIET_STATUSES or chunk.get("progressDetail"):
        return ""
    prefix = f"{chunk['id']}: " if chunk.get("id") else ""
    return f"{prefix}{status}\n"


def stop_build_containers(connection, since):
    """Kill the containers a build runs its steps in (those started since
    `since`, epoch seconds): the build then fails at that step, and the
    engine stays usable. Returns how many were killed."""
    with open_client(connection) as client:
        running = call(client.api.containers, filters={"status": "running"})
        killed = 0
        for container in running:
            if container.get("Created", 0) >= since:
                with contextlib.suppress(docker.errors.APIError):
                    client.api.kill(container["Id"])
                    killed += 1
    return killed
