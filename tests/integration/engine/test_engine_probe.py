"""The engine adapter probes real engines and names each failure for people.

The TLS engine under test is a Docker engine on a loopback port with
--tlsverify and certificates made here: the build-host image serves exactly
that (`dinv -tlsverify`), so no second machine is needed.
"""

import socket
import threading

import pytest

from hosts import engine as engine_adapter
from tests.support.buildhost import free_loopback_port

pytestmark = pytest.mark.integration


def _connection(port, world, host="localhost", ca=None, client=None, **overrides):
    client = client if client is not None else world["client"]
    settings = {
        "docker_url": f"tcp://{host}:{port}",
        "tls_mode": "tlsverify",
        "ca_pem": (ca or world["ca"]).cert_pem.decode(),
        "client_cert_pem": client.cert_pem.decode() if client else "",
        "client_key_pem": client.key_pem.decode() if client else "",
        "timeout": 5,
    }
    return engine_adapter.Connection(**(settings | overrides))


def _probe_error(connection):
    with pytest.raises(engine_adapter.EngineError) as raised:
        engine_adapter.probe(connection)
    return raised.value


def test_the_devstack_engine_probes_over_its_socket(devstack):
    result = engine_adapter.probe(engine_adapter.Connection(devstack["docker_url"]))

    assert result.flavor == "docker"
    assert result.server_version.startswith("20.10")
    assert result.api_version == "1.41"
    assert result.os_type == "linux"


def test_right_client_certificate_probes_ok(tls_engine, tls_world):
    result = engine_adapter.probe(_connection(tls_engine.port, tls_world))

    assert result.flavor == "docker"
    assert result.api_version == "1.41"


def test_client_certificate_from_another_ca_is_rejected(tls_engine, tls_world):
    stranger = tls_world["stranger_ca"].issue_client("intruder")

    error = _probe_error(_connection(tls_engine.port, tls_world, client=stranger))

    assert error.reason == "client_certificate_rejected"


def test_missing_client_certificate_is_named(tls_engine, tls_world):
    error = _probe_error(_connection(tls_engine.port, tls_world, client=False))

    assert error.reason == "client_certificate_missing"
    assert "requires a client certificate" in error.message


def test_wrong_host_name_is_named(tls_engine, tls_world):
    error = _probe_error(_connection(tls_engine.port, tls_world, host="127.0.0.1"))

    assert error.reason == "hostname_mismatch"


def test_unknown_authority_is_named(tls_engine, tls_world):
    connection = _connection(tls_engine.port, tls_world, ca=tls_world["stranger_ca"])

    error = _probe_error(connection)

    assert error.reason == "unknown_authority"


def test_plain_http_to_a_tls_engine_says_tls_is_required(tls_engine, tls_world):
    connection = _connection(tls_engine.port, tls_world, tls_mode="none")

    error = _probe_error(connection)

    assert error.reason == "tls_required"


def test_refused_port_is_named():
    port = free_loopback_port()
    # The port was free a moment ago and nothing listens on it now.
    connection = engine_adapter.Connection(f"tcp://127.0.0.1:{port}", timeout=3)

    error = _probe_error(connection)

    assert error.reason == "connection_refused"


def test_an_engine_that_never_answers_times_out():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    accepted = []
    thread = threading.Thread(
        target=lambda: accepted.append(listener.accept()), daemon=True
    )
    thread.start()
    port = listener.getsockname()[1]
    try:
        error = _probe_error(
            engine_adapter.Connection(f"tcp://127.0.0.1:{port}", timeout=1)
        )
    finally:
        for connection, _ in accepted:
            connection.close()
        listener.close()

    assert error.reason == "timeout"


@pytest.fixture
def nothing_agreed(monkeypatch):
    """No engine's API version agreed yet in this process, and every HTTP
    request the adapter sends, by path."""
    import requests

    from hosts.engine import connections

    monkeypatch.setattr(connections, "_agreed_versions", {})
    paths = []
    send = requests.Session.send

    def counting(session, request, **kwargs):
        paths.append(request.path_url)
        return send(session, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", counting)
    return paths


def test_a_first_ping_answers_in_one_request_and_agrees_the_version(
    tls_engine, tls_world, nothing_agreed
):
    connection = _connection(tls_engine.port, tls_world)

    assert engine_adapter.ping(connection) is True
    assert nothing_agreed == ["/_ping"]

    # The calls after it use the version the ping's answer named.
    assert engine_adapter.probe(connection).api_version == "1.41"
    assert nothing_agreed == ["/_ping", "/v1.41/info"]
    assert engine_adapter.ping(connection) is True
    assert nothing_agreed[-1] == "/v1.41/_ping"


def test_a_first_ping_still_needs_the_right_client_certificate(
    tls_engine, tls_world, nothing_agreed
):
    stranger = tls_world["stranger_ca"].issue_client("intruder")

    for client, reason in (
        (stranger, "client_certificate_rejected"),
        (False, "client_certificate_missing"),
    ):
        with pytest.raises(engine_adapter.EngineError) as raised:
            engine_adapter.ping(_connection(tls_engine.port, tls_world, client=client))
        assert raised.value.reason == reason
    from hosts.engine import connections

    assert not connections.is_agreed(_connection(tls_engine.port, tls_world))


@pytest.fixture
def handshakes(monkeypatch):
    """The TLS handshakes this process makes, as they happen."""
    import ssl

    made = []
    handshake = ssl.SSLSocket.do_handshake

    def counting(sock, *args, **kwargs):
        made.append(sock)
        return handshake(sock, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLSocket, "do_handshake", counting)
    return made


def _tls_folders():
    import tempfile
    from pathlib import Path

    return set(Path(tempfile.gettempdir()).glob("dchweb-tls-*"))


def test_calls_in_one_block_share_one_client_and_its_tls_connection(
    tls_engine, tls_world, handshakes
):
    connection = _connection(tls_engine.port, tls_world)
    assert engine_adapter.ping(connection) is True  # the version is agreed
    before = _tls_folders()
    handshakes.clear()

    with engine_adapter.reusing_clients():
        for _ in range(3):
            assert engine_adapter.ping(connection) is True
        assert engine_adapter.probe(connection).api_version == "1.41"
        assert len(handshakes) == 1
        assert len(_tls_folders() - before) == 1  # its certificates, kept
        # A call that fails drops its client: the next call starts afresh.
        with pytest.raises(engine_adapter.EngineNotFound):
            engine_adapter.container_status(connection, "no-such-container")
        assert engine_adapter.ping(connection) is True
        assert len(handshakes) == 2
    assert _tls_folders() == before  # closed, and its files removed

    # Outside a block, each call has a client of its own.
    assert engine_adapter.ping(connection) is True
    assert engine_adapter.ping(connection) is True
    assert len(handshakes) == 4
