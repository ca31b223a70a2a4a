"""The engine adapter: the one module that imports `docker`.

It takes plain connection settings, returns plain data and raises only the
exceptions below, each with a `reason` code and a message written for the
person who has to fix it. Every call has a timeout.
"""

import contextlib
import dataclasses
import datetime
import io
import json
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import requests

from hosts.lib import failures

# VIC serves API 1.25; anything older cannot run dch-photon.
MINIMUM_API_VERSION = "1.25"
DEFAULT_TIMEOUT_SECONDS = 10
VIC_MARKER = "vSphere Integrated Containers"


class EngineError(Exception):
    """A Docker engine call failed; `reason` says why in one word."""

    reason = "failed"

    def __init__(self, message, reason=None):
        super().__init__(message)
        self.message = message
        if reason:
            self.reason = reason


class EngineUnreachable(EngineError):
    reason = "unreachable"


class EngineTLSError(EngineError):
    reason = "tls"


class EngineVersionUnsupported(EngineError):
    reason = "api_version_unsupported"


class EngineNotFound(EngineError):
    reason = "not_found"


class EngineConflict(EngineError):
    reason = "conflict"


@dataclass(frozen=True)
class Connection:
    """How to reach one engine: what an Endpoint row holds, as plain data."""

    docker_url: str
    tls_mode: str = "none"  # none | tls (encrypt only) | tlsverify
    ca_pem: str = ""
    client_cert_pem: str = ""
    client_key_pem: str = ""
    timeout: float = DEFAULT_TIMEOUT_SECONDS


@dataclass(frozen=True)
class ProbeResult:
    flavor: str  # "vic" or "docker"
    name: str
    server_version: str
    api_version: str
    os_type: str
    architecture: str
    operating_system: str
    volume_stores: list[str] = field(default_factory=list)


def probe(connection):
    """Connect, negotiate the API version and describe the engine."""
    with open_client(connection) as client:
        info = _call(client.info)
        return ProbeResult(
            flavor="vic" if VIC_MARKER in json.dumps(info) else "docker",
            name=info.get("Name", ""),
            server_version=info.get("ServerVersion", ""),
            api_version=client.api.api_version,
            os_type=info.get("OSType", ""),
            architecture=info.get("Architecture", ""),
            operating_system=info.get("OperatingSystem", ""),
            volume_stores=_vic_volume_stores(info),
        )


# The API version agreed with each engine, so that a call costs one request,
# not two. Forgotten when the engine refuses it (an engine was replaced).
_agreed_versions: dict[tuple[str, str], str] = {}


@contextlib.contextmanager
def open_client(connection):
    """A docker-py client on the version both sides speak; closed afterwards."""
    with _tls_files(connection) as tls:
        kwargs = {
            "base_url": _base_url(connection),
            "tls": tls,
            "timeout": connection.timeout,
        }
        key = (kwargs["base_url"], connection.tls_mode)
        version = _agreed_versions.get(key) or _agree_version(connection, kwargs)
        _agreed_versions[key] = version
        client = _client(version=version, **kwargs)
        try:
            yield client
        except EngineVersionUnsupported:
            _agreed_versions.pop(key, None)
            raise
        except EngineTLSError as error:
            named = _name_missing_client_certificate(error, connection)
            if named is error:
                raise
            raise named from error
        finally:
            client.close()


def _agree_version(connection, kwargs):
    client = _client(version=docker.constants.MINIMUM_DOCKER_API_VERSION, **kwargs)
    try:
        return _negotiate(_call(client.version))
    except EngineTLSError as error:
        raise _name_missing_client_certificate(error, connection) from error
    finally:
        client.close()


def _client(**kwargs):
    client = docker.DockerClient(**kwargs)
    # requests lets REQUESTS_CA_BUNDLE override the CA we set on the session,
    # which would make every engine with its own CA "unknown".
    client.api.trust_env = False
    return client


def _name_missing_client_certificate(error, connection):
    """Engines answer "bad certificate" whether ours was wrong or absent."""
    if error.reason == "client_certificate_rejected" and not (
        connection.client_cert_pem and connection.client_key_pem
    ):
        return EngineTLSError(
            "the engine requires a client certificate: add the endpoint's client "
            "certificate and key",
            reason="client_certificate_missing",
        )
    return error


def _base_url(connection):
    url = connection.docker_url
    if connection.tls_mode != "none" and url.startswith("tcp://"):
        return "https://" + url.removeprefix("tcp://")
    return url


@contextlib.contextmanager
def _tls_files(connection):
    """docker-py reads certificates from files: write them, then remove them."""
    if connection.tls_mode == "none":
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="dchweb-tls-") as directory:
        folder = Path(directory)
        client_cert = None
        if connection.client_cert_pem and connection.client_key_pem:
            (folder / "cert.pem").write_text(connection.client_cert_pem)
            (folder / "key.pem").write_text(connection.client_key_pem)
            client_cert = (str(folder / "cert.pem"), str(folder / "key.pem"))
        ca_cert = None
        verify = connection.tls_mode == "tlsverify"
        if verify and connection.ca_pem:
            (folder / "ca.pem").write_text(connection.ca_pem)
            ca_cert = str(folder / "ca.pem")
        yield docker.tls.TLSConfig(
            client_cert=client_cert, ca_cert=ca_cert, verify=verify
        )


def _negotiate(version_info):
    """The highest API version both the engine and docker-py speak."""
    server_max = version_info.get("ApiVersion", MINIMUM_API_VERSION)
    server_min = version_info.get("MinAPIVersion", server_max)
    client_max = docker.constants.DEFAULT_DOCKER_API_VERSION
    chosen = min(server_max, client_max, key=_version_key)
    if _version_key(chosen) < _version_key(MINIMUM_API_VERSION) or _version_key(
        server_min
    ) > _version_key(client_max):
        raise EngineVersionUnsupported(
            f"the engine speaks Docker API {server_min} to {server_max}; dchweb needs "
            f"{MINIMUM_API_VERSION} or newer and speaks up to {client_max}"
        )
    return chosen


def _version_key(version):
    return tuple(int(part) for part in version.split("."))


def _vic_volume_stores(info):
    """VIC lists its volume stores in SystemStatus as ["VolumeStores", "a b"]."""
    for entry in info.get("SystemStatus") or []:
        if len(entry) == 2 and entry[0].strip() == "VolumeStores":
            return entry[1].split()
    return []


def _call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except (docker.errors.DockerException, requests.RequestException, OSError) as e:
        raise classify(e) from e


def classify(error):
    """Turn what docker-py, requests or ssl raised into an EngineError."""
    text = failures.full_text(error)
    reason = failures.reason_of(text)
    if reason in _FAILURES:
        kind, message = _FAILURES[reason]
        return kind(message, reason=reason)
    if "client version" in text.lower():
        return EngineVersionUnsupported(
            f"the engine refused dchweb's API version: {failures.first_line(text)}"
        )
    return EngineError(f"the engine call failed: {failures.first_line(text)}")


# Each failure worded for the admin who has to fix the endpoint.
_FAILURES = {
    "hostname_mismatch": (
        EngineTLSError,
        "the engine's certificate is not valid for this host name or address: use "
        "the name or address in its certificate, or issue it one for this address",
    ),
    "unknown_authority": (
        EngineTLSError,
        "the engine's certificate is signed by an authority the endpoint's CA "
        "certificate does not cover: upload the CA that signed it",
    ),
    "client_certificate_missing": (
        EngineTLSError,
        "the engine requires a client certificate: add the endpoint's client "
        "certificate and key",
    ),
    "client_certificate_rejected": (
        EngineTLSError,
        "the engine rejected the client certificate: it was not issued by the CA "
        "the engine trusts, or it is missing",
    ),
    "tls_not_served": (
        EngineTLSError,
        "the engine does not speak TLS on this port: set the endpoint's TLS mode "
        "to none, or use its TLS port",
    ),
    "tls_required": (
        EngineTLSError,
        "the engine serves TLS: set the endpoint's TLS mode to tls or tlsverify",
    ),
    "connection_refused": (
        EngineUnreachable,
        "connection refused: nothing listens at this address and port (or, for a "
        "unix socket, no engine socket at this path)",
    ),
    "timeout": (
        EngineUnreachable,
        "the engine did not answer in time: check the address, the port and any "
        "firewall between dchweb and the engine",
    ),
    "unknown_host": (EngineUnreachable, "the engine's host name does not resolve"),
    "connection_reset": (
        EngineUnreachable,
        "the engine closed the connection: it may require a client certificate "
        "or speak another protocol on this port",
    ),
}


# --- Registry login from the engine (registry trust per endpoint) -------------


@dataclass(frozen=True)
class RegistryLoginResult:
    ok: bool
    reason: str  # "ok" or a failure code
    message: str


def registry_login(connection, address, username, password):
    """Ask the engine itself to log in to `address` (its /auth call).

    Says whether the engine can pull from that registry: a VCH deployed
    without `--registry-ca` (or an engine without the CA in certs.d) fails
    with unknown_authority. Failures to reach the *engine* raise EngineError;
    the registry's answer comes back as a RegistryLoginResult.
    """
    with open_client(connection) as client:
        try:
            client.login(
                username=username,
                password=password,
                registry=address,
                reauth=True,
                dockercfg_path="/nonexistent/dchweb/config.json",
            )
        except docker.errors.APIError as error:
            return _registry_login_failure(error)
        except (docker.errors.DockerException, requests.RequestException, OSError) as e:
            raise classify(e) from e
    return RegistryLoginResult(True, "ok", "the engine logged in to the registry")


def _registry_login_failure(error):
    text = failures.full_text(error)
    reason, message = _registry_failure(text, "the engine's login failed")
    return RegistryLoginResult(False, reason, message)


def _registry_failure(text, what):
    """(reason, message) for what a registry answered the engine."""
    lowered = text.lower()
    detail = _registry_said(text)
    for needles, reason, message in _REGISTRY_LOGIN_CLASSIFIERS:
        if any(needle in lowered for needle in needles):
            return reason, f"{message} ({detail})"
    return "failed", f"{what}: {detail}"


def _registry_said(text):
    """The engine's own words, without docker-py's "500 Server Error ..." prefix."""
    line = failures.first_line(text, 400)
    return line.split('("', 1)[1].rstrip('")') if '("' in line else line


_REGISTRY_LOGIN_CLASSIFIERS = (
    (
        ("certificate is valid for", "doesn't contain any ip sans", "not valid for"),
        "hostname_mismatch",
        "the registry's certificate is not valid for this address, as the engine "
        "reaches it",
    ),
    (
        ("x509", "certificate signed by unknown authority", "certificate verify"),
        "unknown_authority",
        "the engine does not trust the registry's CA: add it to the engine "
        "(on VIC, deploy the VCH with --registry-ca)",
    ),
    (
        ("unauthorized", "incorrect username or password", "401"),
        "login_refused",
        "login refused: the registry did not accept this username and password "
        "from the engine",
    ),
    (
        ("connection refused",),
        "connection_refused",
        "the engine cannot reach the registry: connection refused",
    ),
    (
        ("no such host", "name or service not known", "server misbehaving"),
        "unknown_host",
        "the engine cannot resolve the registry's host name",
    ),
    (
        ("timeout", "timed out", "deadline exceeded"),
        "timeout",
        "the registry did not answer the engine in time",
    ),
    (
        ("http response to https client", "tls: first record"),
        "tls_not_served",
        "the registry does not speak TLS on this port",
    ),
)


# --- Build hosts (design.md §2: what a build host is on the engine) ----------

# Docker-in-Docker on a plain engine needs these rather than --privileged
# (environment.md: some hosts withhold CAP_MAC_OVERRIDE, so runc refuses a
# privileged container). A VCH runs each container as a VM and needs none.
DIND_OPTIONS = {
    "cap_add": ["SYS_ADMIN", "NET_ADMIN"],
    "security_opt": ["apparmor=unconfined", "seccomp=unconfined"],
}
TLS_PORT = "2376/tcp"
PULL_TIMEOUT_SECONDS = 300


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
class ManagedObject:
    """A container or volume carrying dchweb's labels, as a listing shows it."""

    kind: str  # "container" or "volume"
    name: str
    labels: dict[str, str]
    created: datetime.datetime | None = None
    state: str = ""  # containers: running, exited, created...
    id: str = ""
    image: str = ""
    port: int | None = None


def pull_image(connection, image, auth=None):
    """Pull `image` (with the registry's login); errors inside the 200 stream
    count too. Returns the image id."""
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
                    raise _pull_failure(_stream_error(chunk))
            return client.api.inspect_image(image)["Id"]
        except docker.errors.APIError as error:
            raise _pull_failure(failures.full_text(error)) from error
        except (docker.errors.DockerException, requests.RequestException, OSError) as e:
            raise classify(e) from e


def _stream_error(chunk):
    return (chunk.get("errorDetail") or {}).get("message") or chunk.get("error", "")


def _pull_failure(text):
    lowered = text.lower()
    if any(needle in lowered for needle in _IMAGE_MISSING):
        return EngineNotFound(
            f"image not found: the registry has no such image or tag "
            f"({failures.first_line(text, 200)})",
            reason="image_not_found",
        )
    if "no space left" in lowered:
        return EngineError("the endpoint is out of disk space", reason="out_of_disk")
    reason, message = _registry_failure(text, "the pull failed")
    return EngineError(message, reason=reason)


_IMAGE_MISSING = (
    "manifest unknown",
    "not found: manifest",
    "repository does not exist",
    "no such image",
    "name unknown",
    ": not found",
)


def create_volume(connection, name, labels, driver_opts=None):
    """Create a named, labelled volume; an existing one of ours is reused
    (a retried step must not fail on its own earlier work)."""
    with open_client(connection) as client:
        # Creating a volume that exists returns it as it is: one call either way.
        found = _call(
            client.api.create_volume,
            name=name,
            driver="vsphere" if driver_opts else None,
            driver_opts=driver_opts or None,
            labels=labels,
        )
    _check_ours((found or {}).get("Labels") or {}, labels, f"volume {name}")
    return name


def _check_ours(found_labels, wanted_labels, what):
    """An object that exists already is ours only if it has all our labels."""
    if any(found_labels.get(key) != value for key, value in wanted_labels.items()):
        raise EngineConflict(f"{what} already exists on the engine and is not ours")


def create_container(connection, spec):
    """Create the container (not started); returns its id. A 409 on a retry
    means our earlier attempt made it: inspect and go on."""
    with open_client(connection) as client:
        try:
            container = client.containers.create(
                spec.image,
                command=spec.command,
                name=spec.name,
                labels=spec.labels,
                detach=True,
                # Binds, not Mounts: VIC ignores HostConfig.Mounts.
                volumes={
                    name: {"bind": path, "mode": "rw"}
                    for name, path in spec.binds.items()
                },
                ports=_ports(spec),
                network=spec.network or None,
                **(DIND_OPTIONS if spec.dind else {}),
            )
            return container.id
        except docker.errors.APIError as error:
            if error.status_code != 409:
                raise _container_failure(error) from error
        except (docker.errors.DockerException, requests.RequestException, OSError) as e:
            raise classify(e) from e
        found = _call(client.api.inspect_container, spec.name)
        _check_ours(
            found["Config"].get("Labels") or {}, spec.labels, f"container {spec.name}"
        )
        return found["Id"]


def _ports(spec):
    if not spec.publish_tls_port:
        return None
    return {TLS_PORT: (spec.host_ip, None) if spec.host_ip else None}


def _container_failure(error):
    text = failures.full_text(error)
    if "no space left" in text.lower():
        return EngineError("the endpoint is out of disk space", reason="out_of_disk")
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
        ok = _call(client.api.put_archive, container_id, "/", _tar_of(files))
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
        except (docker.errors.DockerException, requests.RequestException, OSError) as e:
            raise classify(e) from e


@dataclass(frozen=True)
class ContainerStatus:
    state: str  # running, exited, created...
    exit_code: int
    port: int | None  # the host port published for the build host's TLS API
    log_tail: str


def container_status(connection, container_id, log_lines=20):
    with open_client(connection) as client:
        try:
            found = client.api.inspect_container(container_id)
        except docker.errors.NotFound as error:
            raise EngineNotFound("the container is gone from the engine") from error
        except (docker.errors.DockerException, requests.RequestException, OSError) as e:
            raise classify(e) from e
        state = found["State"]
        log_tail = ""
        if state.get("Status") == "exited":
            raw = _call(client.api.logs, container_id, tail=log_lines)
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


def ping(connection):
    """True when the engine answers /_ping (over the connection's TLS)."""
    with open_client(connection) as client:
        return bool(_call(client.api.ping))


def remove_container(connection, container_id_or_name):
    """Remove it and any anonymous volume it has; gone already is done."""
    with open_client(connection) as client:
        try:
            client.api.remove_container(container_id_or_name, v=True, force=True)
        except docker.errors.NotFound:
            return False
        except (docker.errors.DockerException, requests.RequestException, OSError) as e:
            raise classify(e) from e
    return True


def remove_volume(connection, name):
    """Remove a volume; gone already is done; in use is a conflict."""
    with open_client(connection) as client:
        try:
            client.api.remove_volume(name)
        except docker.errors.NotFound:
            return False
        except docker.errors.APIError as error:
            if error.status_code == 409:
                raise EngineConflict(f"volume {name} is in use") from error
            raise classify(error) from error
        except (docker.errors.DockerException, requests.RequestException, OSError) as e:
            raise classify(e) from e
    return True


def list_managed(connection, installation_id):
    """Containers and volumes labelled as this installation's: two calls,
    whatever the number of objects."""
    labels = ["io.dchweb.managed=true", f"io.dchweb.installation={installation_id}"]
    with open_client(connection) as client:
        containers = _call(client.api.containers, all=True, filters={"label": labels})
        volumes = _call(client.api.volumes, filters={"label": labels})
    found = [_managed_container(container) for container in containers]
    found += [
        ManagedObject(
            kind="volume",
            name=volume["Name"],
            labels=volume.get("Labels") or {},
            created=_parse_time(volume.get("CreatedAt")),
        )
        for volume in (volumes or {}).get("Volumes") or []
    ]
    return found


def _managed_container(container):
    port = next(
        (
            item.get("PublicPort")
            for item in container.get("Ports") or []
            if item.get("PrivatePort") == 2376 and item.get("PublicPort")
        ),
        None,
    )
    return ManagedObject(
        kind="container",
        id=container["Id"],
        name=(container.get("Names") or ["/"])[0].lstrip("/"),
        labels=container.get("Labels") or {},
        created=_parse_time(container.get("Created")),
        state=container.get("State", ""),
        image=container.get("Image", ""),
        port=port,
    )


def _parse_time(value):
    """Engines give container times as epoch seconds, volume times as text."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float):
        return datetime.datetime.fromtimestamp(value, datetime.UTC)
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


# --- Builds and pushes on a build host ----------------------------------------------

BUILD_TIMEOUT_SECONDS = 3600
# Push progress ("Pushing [==>  ]") is noise in a log; these statuses are not.
_QUIET_STATUSES = ("Pushing", "Preparing", "Waiting", "Downloading", "Extracting")


class StreamFailed(EngineError):
    """The engine reported an error inside a 200 stream (docker-py does not
    raise for those); `message` is the engine's own words."""

    reason = "build_failed"


class StreamStopped(EngineError):
    reason = "cancelled"


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
):
    """`docker build` on the engine from a context archive on disk; every
    chunk goes to `output(text)`; `stop()` is asked between chunks. `logins`
    (auth dicts) let FROM pull from private registries. Returns the image id.
    An error chunk raises StreamFailed with its message."""
    slow = dataclasses.replace(connection, timeout=BUILD_TIMEOUT_SECONDS)
    image_id = ""
    with open(context_path, "rb") as context, open_client(slow) as client:
        for auth in logins:
            failed = _login_for_build(client, auth)
            if failed:
                output(f"note: login to {auth['serveraddress']} refused ({failed})\n")
        chunks = client.api.build(
            fileobj=context,
            custom_context=True,
            dockerfile=dockerfile,
            tag=tag or None,
            buildargs=build_args or None,
            decode=True,
            rm=True,
            forcerm=True,
        )
        for chunk in _chunks(chunks, stop):
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
        client.login(
            username=auth["username"],
            password=auth["password"],
            registry=auth["serveraddress"],
            reauth=True,
            dockercfg_path="/nonexistent/dchweb/config.json",
        )
    except docker.errors.APIError as error:
        return _registry_said(failures.full_text(error))
    except (docker.errors.DockerException, requests.RequestException, OSError) as e:
        raise classify(e) from e
    return ""


def push_image(connection, ref, auth, *, output, stop):
    """`docker push` from the engine with the registry's login. Returns the
    digest the engine reports; an error chunk raises StreamFailed."""
    repository, tag = docker.utils.parse_repository_tag(ref)
    slow = dataclasses.replace(connection, timeout=BUILD_TIMEOUT_SECONDS)
    digest = ""
    with open_client(slow) as client:
        chunks = client.api.push(
            repository, tag=tag, stream=True, decode=True, auth_config=auth
        )
        for chunk in _chunks(chunks, stop):
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
        _call(client.api.tag, image_id, repository, tag=tag, force=True)


def _chunks(chunks, stop):
    """The stream's chunks; errors inside it and stops raise."""
    try:
        for chunk in chunks:
            if "error" in chunk or "errorDetail" in chunk:
                raise _stream_failure(_stream_error(chunk).strip())
            yield chunk
            if stop():
                raise StreamStopped("cancelled")
    except docker.errors.APIError as error:
        raise _stream_api_failure(error) from error
    except (docker.errors.DockerException, requests.RequestException, OSError) as e:
        raise classify(e) from e


def _stream_failure(text):
    """The engine's own words, with a reason when a registry is to blame."""
    reason, _ = _registry_failure(text, "")
    return StreamFailed(
        text or "the engine failed", reason=None if reason == "failed" else reason
    )


def _stream_api_failure(error):
    text = failures.full_text(error)
    reason, message = _registry_failure(text, "the engine refused")
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
        running = _call(client.api.containers, filters={"status": "running"})
        killed = 0
        for container in running:
            if container.get("Created", 0) >= since:
                with contextlib.suppress(docker.errors.APIError):
                    client.api.kill(container["Id"])
                    killed += 1
    return killed


def container_logs(connection, container_id, tail=200):
    """The last `tail` lines of a container's output (stdout and stderr)."""
    with open_client(connection) as client:
        try:
            raw = client.api.logs(container_id, tail=tail, stdout=True, stderr=True)
        except docker.errors.NotFound as error:
            raise EngineNotFound("the container is gone from the engine") from error
        except (docker.errors.DockerException, requests.RequestException, OSError) as e:
            raise classify(e) from e
    return raw.decode(errors="replace")


# --- Volume inventory (the ledger) ---------------------------------------------------


@dataclass(frozen=True)
class VolumeSeen:
    name: str
    driver: str
    labels: dict[str, str]
    created: datetime.datetime | None
    options: dict[str, str]


@dataclass(frozen=True)
class ContainerSeen:
    name: str
    image: str
    state: str
    volumes: list[str]


@dataclass(frozen=True)
class Inventory:
    volumes: list[VolumeSeen]
    containers: list[ContainerSeen]
    calls: int  # engine API calls it took: two, whatever the numbers


def volume_inventory(connection):
    """Every volume and every container (with the volumes it mounts), in two
    calls; the ledger works out who uses what."""
    with open_client(connection) as client:
        volumes = _call(client.api.volumes) or {}
        containers = _call(client.api.containers, all=True)
    return Inventory(
        volumes=[
            VolumeSeen(
                name=volume["Name"],
                driver=volume.get("Driver", ""),
                labels=volume.get("Labels") or {},
                created=_parse_time(volume.get("CreatedAt")),
                options=volume.get("Options") or {},
            )
            for volume in volumes.get("Volumes") or []
        ],
        containers=[
            ContainerSeen(
                name=(container.get("Names") or ["/"])[0].lstrip("/"),
                image=container.get("Image", ""),
                state=container.get("State", ""),
                volumes=[
                    mount["Name"]
                    for mount in container.get("Mounts") or []
                    if mount.get("Type") == "volume" and mount.get("Name")
                ],
            )
            for container in containers
        ],
        calls=2,
    )


def volume_sizes(connection):
    """{volume name: bytes} from one `system df` (volumes only where the API
    has `type`; older engines answer with everything, still one call)."""
    with open_client(connection) as client:
        url = f"{client.api.base_url}/v{client.api.api_version}/system/df"
        try:
            response = client.api.get(url, params={"type": "volume"}, timeout=300)
            response.raise_for_status()
            usage = response.json()
        except (requests.RequestException, ValueError, OSError) as error:
            raise classify(error) from error
    sizes = {}
    for volume in usage.get("Volumes") or []:
        size = (volume.get("UsageData") or {}).get("Size", -1)
        if size is not None and size >= 0:
            sizes[volume["Name"]] = size
    return sizes


def volume_users(connection, name):
    """Names of the containers (running or not) that mount volume `name`."""
    with open_client(connection) as client:
        found = _call(client.api.containers, all=True, filters={"volume": name})
    return [(container.get("Names") or ["/"])[0].lstrip("/") for container in found]


# --- Events --------------------------------------------------------------------------

WATCHED_EVENT_TYPES = ["container", "volume"]
# The volume and container actions that change what the ledger says.
LEDGER_ACTIONS = {"create", "destroy", "mount", "unmount", "prune"}


def watch_events(connection, on_change, idle_seconds=300):
    """Call `on_change(event)` for each container or volume event that can
    change the ledger. Returns when the stream ends or stays silent for
    `idle_seconds`; the caller then resyncs by listing (an engine keeps only
    its last 256 events, so a gap cannot be replayed) and watches again."""
    idle = dataclasses.replace(connection, timeout=idle_seconds)
    with open_client(idle) as client:
        events = client.api.events(decode=True, filters={"type": WATCHED_EVENT_TYPES})
        try:
            for event in events:
                if event.get("Action", "").split(":")[0] in LEDGER_ACTIONS:
                    on_change(event)
        except (requests.exceptions.ConnectionError, OSError) as error:
            if "timed out" not in failures.full_text(error).lower():
                raise classify(error) from error
        finally:
            events.close()
