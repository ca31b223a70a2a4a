"""Containers (design.md §2: what a build host is on the engine): create one
from a spec, copy files in, start it, read its state and logs, remove it."""

import io
import tarfile
import time
from dataclasses import dataclass, field

import docker.errors

from hosts.engine.connections import open_client
from hosts.engine.errors import (
    CLIENT_ERRORS,
    EngineError,
    EngineNotFound,
    call,
    check_ours,
    classify,
    out_of_disk,
)
from hosts.lib import failures

# Docker-in-Docker on a plain engine needs these rather than --privileged
# (environment.md: some hosts withhold CAP_MAC_OVERRIDE, so runc refuses a
# privileged container). A VCH runs each container as a VM and needs none.
DIND_OPTIONS = {
    "cap_add": ["SYS_ADMIN", "NET_ADMIN"],
    "security_opt": ["apparmor=unconfined", "seccomp=unconfined"],
}
TLS_PORT = "2376/tcp"
# A Docker-in-Docker engine stops its own containers before it exits: time
# for that before the engine kills it.
STOP_GRACE_SECONDS = 30


@dataclass(frozen=True)
class ContainerSpec:
    """What the engine needs to create one container: a build host (TLS port
    published, Docker-in-Docker privileges) or a deployed image."""

    name: str
    image: str
    command: list[str]
    labels: dict[str, str]
    binds: dict[str, str] = field(default_factory=dict)  # volume -> path
    publish_tls_port: bool = False
    host_ip: str = ""  # "" publishes on every address of the engine's host
    network: str = ""
    dind: bool = False  # plain engines only: a VCH runs each container as a VM


@dataclass(frozen=True)
class ContainerStatus:
    state: str  # running, exited, created...
    exit_code: int
    port: int | None  # the host port published for the build host's TLS API
    log_tail: str


def create_container(connection, spec):
    """Create the container (not started); returns its id. A 409 on a retry
    means our earlier attempt made it: inspect and go on."""
    with open_client(connection) as client:
        try:
            # The low-level call: docker-py's containers.create() inspects the
            # container it made, a request nobody here needs.
            created = client.api.create_container(**_create_arguments(client, spec))
            return created["Id"]
        except docker.errors.APIError as error:
            if error.status_code != 409:
                raise _container_failure(error) from error
        except CLIENT_ERRORS as e:
            raise classify(e) from e
        found = call(client.api.inspect_container, spec.name)
        check_ours(
            found["Config"].get("Labels") or {}, spec.labels, f"container {spec.name}"
        )
        return found["Id"]


def _create_arguments(client, spec):
    """The request docker-py's containers.create() would send for `spec`."""
    # Binds, not Mounts: VIC ignores HostConfig.Mounts.
    binds = {name: {"bind": path, "mode": "rw"} for name, path in spec.binds.items()}
    ports = _ports(spec)
    host_config = client.api.create_host_config(
        binds=binds,
        port_bindings=ports,
        network_mode=spec.network or None,
        **(DIND_OPTIONS if spec.dind else {}),
    )
    return {
        "image": spec.image,
        "command": spec.command,
        "name": spec.name,
        "labels": spec.labels,
        "detach": True,
        "volumes": [bind["bind"] for bind in binds.values()],
        "ports": [tuple(port.split("/", 1)) for port in ports] if ports else None,
        "networking_config": {spec.network: None} if spec.network else None,
        "host_config": host_config,
    }


def _ports(spec):
    if not spec.publish_tls_port:
        return None
    return {TLS_PORT: (spec.host_ip, None) if spec.host_ip else None}


def _container_failure(error):
    text = failures.full_text(error)
    if "no space left" in text.lower():
        return out_of_disk()
    if error.status_code == 404:
        return EngineNotFound(
            f"the engine cannot find it: {failures.first_line(text)}",
            reason="image_not_found" if "image" in text.lower() else "not_found",
        )
    return classify(error)


def put_files(connection, container_id, files):
    """Copy {path: bytes} into the container (archive API; works before the
    first start, which is when dch-photon reads its certificates)."""
    with open_client(connection) as client:
        ok = call(client.api.put_archive, container_id, "/", _tar_of(files))
    if not ok:
        raise EngineError("the engine refused the files copied into the container")


def _tar_of(files):
    buffer = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for path, data in files.items():
            info = tarfile.TarInfo(path.lstrip("/"))
            info.size = len(data)
            info.mode = 0o600 if path.endswith((".key", "-key.pem")) else 0o644
            info.mtime = now
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def start_container(connection, container_id):
    """Start it; starting a running container is not an error."""
    with open_client(connection) as client:
        try:
            client.api.start(container_id)
        except docker.errors.APIError as error:
            raise _container_failure(error) from error
        except CLIENT_ERRORS as e:
            raise classify(e) from e


def stop_container(connection, container_id, grace_seconds=STOP_GRACE_SECONDS):
    """Stop it (SIGTERM, then SIGKILL after `grace_seconds`); its volumes
    stay. The call waits the grace on top of the connection's timeout.
    Returns False when the container is gone; stopped already is done."""
    with open_client(connection) as client:
        try:
            client.api.stop(container_id, timeout=grace_seconds)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as error:
            raise _container_failure(error) from error
        except CLIENT_ERRORS as e:
            raise classify(e) from e
    return True


def container_status(connection, container_id, log_lines=20):
    with open_client(connection) as client:
        try:
            found = client.api.inspect_container(container_id)
        except docker.errors.NotFound as error:
            raise EngineNotFound("the container is gone from the engine") from error
        except CLIENT_ERRORS as e:
            raise classify(e) from e
        state = found["State"]
        log_tail = ""
        if state.get("Status") == "exited":
            raw = call(client.api.logs, container_id, tail=log_lines)
            log_tail = raw.decode(errors="replace")
        return ContainerStatus(
            state=state.get("Status", ""),
            exit_code=state.get("ExitCode", 0),
            port=_published_port(found),
            log_tail=log_tail,
        )


def _published_port(inspected):
    bindings = (inspected.get("NetworkSettings") or {}).get("Ports") or {}
    for binding in bindings.get(TLS_PORT) or []:
        if binding.get("HostPort"):
            return int(binding["HostPort"])
    return None


def container_logs(connection, container_id, tail=200):
    """The last `tail` lines of a container's output (stdout and stderr)."""
    with open_client(connection) as client:
        try:
            raw = client.api.logs(container_id, tail=tail, stdout=True, stderr=True)
        except docker.errors.NotFound as error:
            raise EngineNotFound("the container is gone from the engine") from error
        except CLIENT_ERRORS as e:
            raise classify(e) from e
    return raw.decode(errors="replace")


def remove_container(connection, container_id_or_name):
    """Remove it and any anonymous volume it has; gone already is done."""
    with open_client(connection) as client:
        try:
            client.api.remove_container(container_id_or_name, v=True, force=True)
        except docker.errors.NotFound:
            return False
        except CLIENT_ERRORS as e:
            raise classify(e) from e
    return True
