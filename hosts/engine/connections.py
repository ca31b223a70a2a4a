"""Connections: how to reach one engine, and a docker-py client on the API
version both sides speak, over the connection's TLS."""

import contextlib
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import docker

from hosts.engine.errors import EngineTLSError, EngineVersionUnsupported, call

# VIC serves API 1.25; anything older cannot run dch-photon.
MINIMUM_API_VERSION = "1.25"
DEFAULT_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Connection:
    """How to reach one engine: what an Endpoint row holds, as plain data."""

    docker_url: str
    tls_mode: str = "none"  # none | tls (encrypt only) | tlsverify
    ca_pem: str = ""
    client_cert_pem: str = ""
    client_key_pem: str = ""
    timeout: float = DEFAULT_TIMEOUT_SECONDS


# The API version agreed with each engine, so that a call costs one request,
# not two. Forgotten when the engine refuses it (an engine was replaced).
_agreed_versions: dict[tuple[str, str], str] = {}


@contextlib.contextmanager
def open_client(connection):
    """A docker-py client on the version both sides speak; closed afterwards,
    unless a `reusing_clients()` block on this thread keeps it for the next
    call to the same engine."""
    kept = getattr(_reuse, "clients", None)
    key = _identity(connection)
    if kept is None:
        with contextlib.ExitStack() as resources:
            client = _new_client(connection, resources)
            with _speaking(connection, client):
                yield client
        return
    if key not in kept:
        resources = contextlib.ExitStack()
        try:
            kept[key] = (_new_client(connection, resources), resources)
        except BaseException:
            resources.close()
            raise
    client, resources = kept[key]
    client.api.timeout = connection.timeout
    try:
        with _speaking(connection, client):
            yield client
    except BaseException:
        # A client that failed may hold a broken connection: the next call
        # starts afresh.
        kept.pop(key, None)
        resources.close()
        raise


# Clients kept for a `reusing_clients()` block, per thread (docker-py clients
# are not shared between threads).
_reuse = threading.local()


@contextlib.contextmanager
def reusing_clients():
    """Within it, every call on this thread to the same engine (same address
    and certificates) goes through one client and its open connections, as
    one person's docker-py session would: over TLS, one handshake instead
    of one per call. A provision, a build and its push run inside one.
    Nested blocks share the outermost's clients; it closes them."""
    if getattr(_reuse, "clients", None) is not None:
        yield
        return
    _reuse.clients = {}
    try:
        yield
    finally:
        clients, _reuse.clients = _reuse.clients, None
        for _client_kept, resources in clients.values():
            resources.close()  # the client, then its TLS files


def _identity(connection):
    """What makes two connections the same engine session (not the timeout:
    it is set on the client for each call)."""
    return (
        connection.docker_url,
        connection.tls_mode,
        connection.ca_pem,
        connection.client_cert_pem,
        connection.client_key_pem,
    )


def _new_client(connection, resources):
    """A client on the agreed version; its TLS files live as long as
    `resources` (an ExitStack): requests reads them at each new connection."""
    tls = resources.enter_context(_tls_files(connection))
    kwargs = {
        "base_url": _base_url(connection),
        "tls": tls,
        "timeout": connection.timeout,
    }
    key = (kwargs["base_url"], connection.tls_mode)
    version = _agreed_versions.get(key) or _agree_version(connection, kwargs)
    _agreed_versions[key] = version
    client = _client(version=version, **kwargs)
    resources.callback(client.close)
    return client


@contextlib.contextmanager
def _speaking(connection, client):
    """The errors of a call, in words: a refused version is agreed again
    next time; a TLS refusal names a missing client certificate."""
    try:
        yield
    except EngineVersionUnsupported:
        _agreed_versions.pop((_base_url(connection), connection.tls_mode), None)
        raise
    except EngineTLSError as error:
        named = _name_missing_client_certificate(error, connection)
        if named is error:
            raise
        raise named from error


def ping_agreeing(connection) -> bool:
    """/_ping on an engine whose API version is not agreed yet (a build host
    just started), at the unversioned path, as the docker CLI sends its first
    request: True when it answers "OK", and the API-Version its answer names
    is agreed for the calls after it. One request on one TLS connection,
    where GET /version on a client of its own came first."""
    with _tls_files(connection) as tls:
        base_url = _base_url(connection)
        client = _client(
            version=MINIMUM_API_VERSION,
            base_url=base_url,
            tls=tls,
            timeout=connection.timeout,
        )
        try:
            answer = call(
                client.api.get,
                f"{client.api.base_url}/_ping",
                timeout=connection.timeout,
            )
            call(answer.raise_for_status)
        except EngineTLSError as error:
            raise _name_missing_client_certificate(error, connection) from error
        finally:
            client.close()
    server_version = answer.headers.get("API-Version")
    if server_version:
        # /_ping names no oldest version: the oldest dchweb speaks stands in
        # (an engine that refuses it is agreed again, by open_client).
        _agreed_versions[(base_url, connection.tls_mode)] = _negotiate(
            {"ApiVersion": server_version, "MinAPIVersion": MINIMUM_API_VERSION}
        )
    return answer.text == "OK"


def is_agreed(connection) -> bool:
    return (_base_url(connection), connection.tls_mode) in _agreed_versions


def _agree_version(connection, kwargs):
    client = _client(version=docker.constants.MINIMUM_DOCKER_API_VERSION, **kwargs)
    try:
        return _negotiate(call(client.version))
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
