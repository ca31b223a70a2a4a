"""The devstack's parts fit: engine, build-host image, mutual TLS, registry.

Everything here is done by hand with docker-py, as an admin would without
dchweb, so a failure points at the devstack rather than at dchweb's code.
"""

import ssl
import uuid

import pytest
import requests

from tests.support import pki
from tests.support.buildhost import (
    mutual_tls_client,
    registry_ca_files,
    remove_build_host,
    start_build_host,
    stream_errors,
    tar_of,
    tlsverify_files,
    wait_until_pinged,
    write_client_files,
)

pytestmark = pytest.mark.integration

SMOKE_DOCKERFILE = b"""FROM scratch
COPY busybox /bin/busybox
CMD ["/bin/busybox", "echo", "built inside a build host"]
"""


@pytest.fixture(scope="module")
def pki_set():
    ca = pki.make_ca("build host CA")
    return {
        "ca": ca,
        "server": ca.issue_server("build host", ["localhost"], ["127.0.0.1"]),
        "client": ca.issue_client("dchweb"),
        "stranger_ca": pki.make_ca("someone else's CA"),
    }


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory, pki_set):
    return write_client_files(
        tmp_path_factory.mktemp("tls"), pki_set["ca"], pki_set["client"]
    )


def _start(engine, image, devstack, pki_set, *, with_registry_ca):
    files = tlsverify_files(pki_set["ca"], pki_set["server"], pki_set["client"])
    if with_registry_ca:
        files |= registry_ca_files(devstack["registry"], devstack["registry_ca"])
    return start_build_host(engine, image, devstack["network"], files)


@pytest.fixture(scope="module")
def trusted_host(engine, build_host_image, devstack, pki_set, client_dir):
    host = _start(engine, build_host_image, devstack, pki_set, with_registry_ca=True)
    try:
        wait_until_pinged(host.url, client_dir)
        yield host
    finally:
        remove_build_host(host.container)


@pytest.fixture(scope="module")
def untrusting_host(engine, build_host_image, devstack, pki_set, client_dir):
    host = _start(engine, build_host_image, devstack, pki_set, with_registry_ca=False)
    try:
        wait_until_pinged(host.url, client_dir)
        yield host
    finally:
        remove_build_host(host.container)


def test_ping_over_mutual_tls_answers_ok(trusted_host, client_dir):
    response = wait_until_pinged(trusted_host.url, client_dir)

    assert response.text == "OK"


def test_the_build_host_kept_our_certificates(trusted_host, client_dir, pki_set):
    # dch-photon regenerates its CA when one of six files is missing; a
    # regenerated CA would make our client certificate useless.
    info = mutual_tls_client(trusted_host.url, client_dir).info()

    assert info["ServerVersion"].startswith("20.10")


def test_a_client_without_certificate_is_refused(trusted_host, client_dir):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(
            f"{trusted_host.url}/_ping", verify=str(client_dir / "ca.pem"), timeout=5
        )


def test_a_client_certificate_from_another_ca_is_refused(
    trusted_host, client_dir, pki_set, tmp_path
):
    stranger = pki_set["stranger_ca"].issue_client("intruder")
    (tmp_path / "cert.pem").write_bytes(stranger.cert_pem)
    (tmp_path / "key.pem").write_bytes(stranger.key_pem)

    with pytest.raises((requests.exceptions.SSLError, ssl.SSLError)):
        requests.get(
            f"{trusted_host.url}/_ping",
            cert=(str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")),
            verify=str(client_dir / "ca.pem"),
            timeout=5,
        )


def _build_smoke_image(client, busybox, tag):
    context = tar_of({"Dockerfile": SMOKE_DOCKERFILE, "busybox": busybox})
    chunks = client.api.build(
        fileobj=context, custom_context=True, tag=tag, rm=True, decode=True
    )
    errors = stream_errors(chunks)
    assert errors == [], f"build failed: {errors}"


def test_image_built_in_build_host_is_pushed_and_pulled_back_by_the_engine(
    trusted_host, client_dir, engine, devstack, registry_auth, busybox
):
    repository = f"{devstack['registry']}/default-project/foundation-smoke"
    tag = uuid.uuid4().hex[:12]
    inner = mutual_tls_client(trusted_host.url, client_dir)
    _build_smoke_image(inner, busybox, f"{repository}:{tag}")

    login = inner.login(
        registry=devstack["registry"],
        username=registry_auth["username"],
        password=registry_auth["password"],
        reauth=True,  # a login saved in DOCKER_CONFIG would be returned unasked
    )
    pushed = inner.api.push(repository, tag=tag, stream=True, decode=True)
    assert stream_errors(pushed) == []

    engine.images.pull(repository, tag=tag, auth_config=registry_auth)
    output = engine.containers.run(
        f"{repository}:{tag}", remove=True, network_mode="none"
    )

    assert login["Status"] == "Login Succeeded"
    assert output.strip() == b"built inside a build host"
    engine.images.remove(f"{repository}:{tag}")


def test_push_without_the_registry_ca_fails_with_x509(
    untrusting_host, client_dir, devstack, registry_auth, busybox
):
    repository = f"{devstack['registry']}/default-project/foundation-untrusted"
    tag = uuid.uuid4().hex[:12]
    inner = mutual_tls_client(untrusting_host.url, client_dir)
    _build_smoke_image(inner, busybox, f"{repository}:{tag}")

    pushed = inner.api.push(
        repository, tag=tag, stream=True, decode=True, auth_config=registry_auth
    )
    errors = stream_errors(pushed)

    assert errors, "the push succeeded without the registry's CA"
    assert "x509" in " ".join(errors)
