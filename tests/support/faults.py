"""Breaking the devstack's real parts mid-work, and repairing them as an
operator (or devstack/up) would: Redis restarted, the engine stopped and
started again, the registry stopped and started. The fault tests and the
soak (bench/soak.py) break parts with these.

They act on the devstack of this checkout (var/devstack/): a clone with a
devstack of its own breaks only its own parts."""

import os
import signal
import socket
import ssl
import subprocess
from pathlib import Path

from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / "var" / "devstack"
REGISTRY_CONTAINER = "dchweb-registry"


def redis_pid():
    return int((STATE / "redis.pid").read_text())


def restart_redis():
    """Stop the devstack's Redis (its queue is in memory: every waiting
    message is lost) and start it again as devstack/up does."""
    os.kill(redis_pid(), signal.SIGTERM)
    wait_until(lambda: not (STATE / "redis.sock").exists(), "Redis to stop")
    subprocess.run([str(ROOT / "devstack/up")], check=True, capture_output=True)


def stop_engine():
    """SIGTERM the devstack's dockerd, as a host shutdown or a package upgrade
    would: it stops every container (build hosts, the registry) and exits."""
    pid = int((STATE / "dockerd.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), "dockerd to exit", timeout=60)


def start_engine(others):
    """Start dockerd (and the registry on it) again as devstack/up does, then
    the other containers that ran on it (the suite's own TLS engine): the
    caller repairs what it broke. dchweb's build hosts are left to dchweb."""
    subprocess.run(
        [str(ROOT / "devstack/up")], check=True, capture_output=True, timeout=180
    )
    for container in others:
        container.start()
        bindings = container.attrs["HostConfig"].get("PortBindings") or {}
        for binding in bindings.get("2376/tcp") or []:
            port = int(binding["HostPort"])
            wait_until(
                lambda port=port: _serves_tls(port),
                f"{container.name}'s engine on port {port}",
                interval=0.3,
            )


def _serves_tls(port):
    """A TLS handshake completes: the engine inside is up (docker-proxy alone
    accepts the connection, then drops it)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=2) as raw,
            context.wrap_socket(raw),
        ):
            return True
    except (OSError, ssl.SSLError):
        return False


def others_running(engine):
    """The running containers that are not this installation's build hosts:
    what start_engine must start again."""
    from hosts.core import installation

    ours = f"io.dchweb.installation={installation.installation_id()}"
    mine = {c.id for c in engine.containers.list(filters={"label": ours})}
    return [c for c in engine.containers.list() if c.id not in mine]


def wait_for_registry(devstack, timeout=30):
    """Until the registry answers a login with the devstack's CA and user."""
    from hosts.lib import registry_check

    def answers():
        return registry_check.check_registry(
            devstack["registry"],
            devstack["registry_ca"].decode(),
            devstack["registry_user"],
            devstack["registry_password"],
        ).ok

    wait_until(answers, "the registry to come back", timeout=timeout, interval=0.3)
