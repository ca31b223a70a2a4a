"""Build hosts started by hand with docker-py, the way an admin would by hand.

The foundation tests use these to prove the devstack's parts fit together
(engine, build-host image, registry, mutual TLS) independently of dchweb's own
provisioning code.
"""

import contextlib
import io
import os
import socket
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
import requests

# Docker-in-Docker needs these instead of --privileged: this machine kind
# withholds CAP_MAC_OVERRIDE, so runc refuses a privileged container.
DIND_OPTIONS = {
    "cap_add": ["SYS_ADMIN", "NET_ADMIN"],
    "security_opt": ["apparmor=unconfined", "seccomp=unconfined"],
}
READY_TIMEOUT_SECONDS = 60


def tar_of(files):
    """A tar archive (bytes) of {path inside the archive: bytes}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith("busybox") else 0o644
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def tlsverify_files(ca, server, client):
    """The six files dch-photon checks in /certs before it trusts ours.

    If any is missing it silently generates a new CA and replaces ours, so
    ca-key.pem is present but is not the real CA key.
    """
    return {
        "certs/ca.crt": ca.cert_pem,
        "certs/ca-key.pem": b"not the CA key: dchweb keeps that\n",
        "certs/docker.crt": server.cert_pem,
        "certs/docker.key": server.key_pem,
        "certs/docker-client.crt": client.cert_pem,
        "certs/docker-client.key": client.key_pem,
    }


def registry_ca_files(registry, ca_pem):
    return {f"etc/docker/certs.d/{registry}/ca.crt": ca_pem}


@dataclass
class RunningBuildHost:
    container: object
    port: int

    @property
    def url(self):
        return f"https://127.0.0.1:{self.port}"


def free_loopback_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_build_host(engine, image, network, files, flags=("-tlsverify",)):
    """Create, copy files in before the first start, start; return the host.
    Its port is chosen here, not by the engine, so it stays the same if the
    engine restarts it (the fault suite restarts the engine)."""
    container = engine.containers.create(
        image,
        command=list(flags),
        detach=True,
        network=network,
        ports={"2376/tcp": ("127.0.0.1", free_loopback_port())},
        labels={"io.dchweb.test": "foundation"},
        **DIND_OPTIONS,
    )
    try:
        container.put_archive("/", tar_of(files))
        container.start()
        container.reload()
        port = int(container.ports["2376/tcp"][0]["HostPort"])
    except Exception:
        remove_build_host(container)
        raise
    return RunningBuildHost(container, port)


def remove_build_host(container):
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True, v=True)


def write_client_files(directory, ca, client):
    """Write ca.pem, cert.pem, key.pem as `docker --tlsverify` expects them."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "ca.pem").write_bytes(ca.cert_pem)
    (directory / "cert.pem").write_bytes(client.cert_pem)
    (directory / "key.pem").write_bytes(client.key_pem)
    os.chmod(directory / "key.pem", 0o600)
    return directory


def mutual_tls_client(url, cert_dir):
    tls = docker.tls.TLSConfig(
        client_cert=(str(cert_dir / "cert.pem"), str(cert_dir / "key.pem")),
        ca_cert=str(cert_dir / "ca.pem"),
        verify=True,
    )
    client = docker.DockerClient(base_url=url, tls=tls, timeout=60, version="1.41")
    # requests lets REQUESTS_CA_BUNDLE (set on many machines, this one too)
    # override the session's CA, so the build host's CA would be ignored.
    client.api.trust_env = False
    return client


def wait_until_pinged(url, cert_dir, timeout=READY_TIMEOUT_SECONDS):
    """Poll /_ping over mutual TLS, as dch-photon's own test polls `docker info`."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            response = requests.get(
                f"{url}/_ping",
                cert=(str(cert_dir / "cert.pem"), str(cert_dir / "key.pem")),
                verify=str(cert_dir / "ca.pem"),
                timeout=3,
            )
            if response.status_code == 200:
                return response
            last_error = f"HTTP {response.status_code}"
        except requests.RequestException as error:
            last_error = error
        time.sleep(0.25)
    raise AssertionError(f"build host at {url} never answered /_ping: {last_error}")


def stream_errors(chunks):
    """Every error a Docker JSON stream reports, even inside a 200 response."""
    errors = []
    for chunk in chunks:
        if "errorDetail" in chunk or "error" in chunk:
            detail = chunk.get("errorDetail", {}).get("message")
            errors.append(detail or chunk.get("error"))
    return errors
