"""Pure parts of the engine adapter: version negotiation and VIC facts.

The failures it classifies are proven against real engines in
tests/integration/engine/test_engine_probe.py.
"""

import ssl

import docker.constants
import pytest
import requests
import urllib3.exceptions

from hosts import engine


def test_a_vic_engine_is_spoken_to_in_its_own_api_version():
    assert engine._negotiate({"ApiVersion": "1.25", "MinAPIVersion": "1.19"}) == "1.25"


def test_a_newer_engine_is_spoken_to_in_docker_pys_newest_version():
    chosen = engine._negotiate({"ApiVersion": "1.99", "MinAPIVersion": "1.24"})

    assert chosen == docker.constants.DEFAULT_DOCKER_API_VERSION


def test_versions_compare_as_numbers_not_text():
    # As text, "1.100" sorts before "1.44"; as a version it is newer.
    chosen = engine._negotiate({"ApiVersion": "1.100", "MinAPIVersion": "1.24"})

    assert chosen == docker.constants.DEFAULT_DOCKER_API_VERSION


@pytest.mark.parametrize(
    "version_info",
    [
        {"ApiVersion": "1.24", "MinAPIVersion": "1.12"},
        {"ApiVersion": "2.10", "MinAPIVersion": "2.0"},
    ],
)
def test_an_engine_outside_what_dchweb_speaks_is_refused(version_info):
    with pytest.raises(engine.EngineVersionUnsupported) as raised:
        engine._negotiate(version_info)

    assert "1.25 or newer" in raised.value.message


def test_vic_volume_stores_are_read_from_system_status():
    info = {
        "Driver": "vSphere Integrated Containers v1.5.8 Backend Engine",
        "SystemStatus": [["VCH CPU limit", "2 MHz"], ["VolumeStores", "default nfs"]],
    }

    assert engine._vic_volume_stores(info) == ["default", "nfs"]
    assert engine._vic_volume_stores({"SystemStatus": None}) == []


def test_a_stream_cut_mid_body_is_a_cut_connection_not_dchwebs_own_failure():
    # What the soak saw when the engine stopped during a push: docker-py reads
    # the stream from the raw response, so urllib3's error comes through as is.
    cut = urllib3.exceptions.ProtocolError(
        "Connection broken: IncompleteRead(0 bytes read, 2 more expected)"
    )
    chunks = engine.builds._chunks(lambda: _raising(cut), stop=lambda: False)

    with pytest.raises(engine.EngineError) as raised:
        list(chunks)

    assert raised.value.reason == "connection_reset"


def test_tls_closed_without_its_goodbye_is_a_cut_connection():
    error = ssl.SSLEOFError(8, "EOF occurred in violation of protocol (_ssl.c:2427)")

    assert engine.classify(error).reason == "connection_reset"


def test_a_stream_that_cannot_even_start_is_the_engines_failure_too():
    # The soak's push when the engine went away under it: the request itself
    # failed (requests' SSLError), before any chunk.
    eof = ssl.SSLEOFError(
        8, "[SSL: UNEXPECTED_EOF_WHILE_READING] EOF occurred in violation of protocol"
    )
    refused = requests.exceptions.SSLError(eof)

    def start():
        raise refused

    with pytest.raises(engine.EngineError) as raised:
        list(engine.builds._chunks(start, stop=lambda: False))

    assert raised.value.reason == "connection_reset"


def _raising(error):
    yield {"status": "Pushing"}
    raise error
