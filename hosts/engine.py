"""The engine adapter: the one module that imports `docker`.

It takes plain connection settings, returns plain data and raises only the
exceptions below, each with a `reason` code and a message written for the
person who has to fix it. Every call has a timeout.
"""

import contextlib
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
import requests

from hosts import failures

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


@contextlib.contextmanager
def open_client(connection):
    """A docker-py client on the version both sides speak; closed afterwards."""
    with _tls_files(connection) as tls:
        kwargs = {
            "base_url": _base_url(connection),
            "tls": tls,
            "timeout": connection.timeout,
        }
        client = _client(version=docker.constants.MINIMUM_DOCKER_API_VERSION, **kwargs)
        try:
            version = _negotiate(_call(client.version))
        except EngineTLSError as error:
            raise _name_missing_client_certificate(error, connection) from error
        finally:
            client.close()
        client = _client(version=version, **kwargs)
        try:
            yield client
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
    lowered = text.lower()
    for needles, reason, message in _REGISTRY_LOGIN_CLASSIFIERS:
        if any(needle in lowered for needle in needles):
            return RegistryLoginResult(False, reason, message)
    return RegistryLoginResult(
        False, "failed", f"the engine's login failed: {failures.first_line(text)}"
    )


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
