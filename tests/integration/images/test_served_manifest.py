"""A pushed image verified at the real TLS registry in one GET: the digest it
is served under and the bytes it stores; a reference it does not serve, a
wrong password and a registry whose CA is not trusted are each refused with
words (the build's verify step fails with them)."""

import pytest

from hosts.lib import registry_check, registry_manifests

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

REPOSITORY = "default-project/dch-photon"


def serve(registry, reference, **changes):
    values = {
        "ca_pem": registry.ca_pem,
        "username": registry.username,
        "password": registry.get_password(),
        **changes,
    }
    return registry_manifests.served_manifest(
        registry.address, REPOSITORY, reference, **values
    )


def test_one_get_gives_the_served_digest_and_the_stored_bytes(
    registry, build_host_image
):
    by_tag = serve(registry, build_host_image.rsplit(":", 1)[1])
    head = registry_check.manifest_digest(
        registry.address,
        REPOSITORY,
        by_tag.digest,
        ca_pem=registry.ca_pem,
        username=registry.username,
        password=registry.get_password(),
    )

    assert by_tag.digest.startswith("sha256:") and head == by_tag.digest
    assert by_tag.size_bytes > 10_000_000  # the build-host image's layers
    assert serve(registry, by_tag.digest) == by_tag


@pytest.mark.parametrize(
    ("reference", "changes", "words"),
    [
        ("no-such-tag", {}, "does not serve default-project/dch-photon:no-such-tag"),
        ("20.10", {"password": "wrong"}, "(HTTP 401)"),
        ("20.10", {"ca_pem": ""}, "certificate"),
    ],
)
def test_what_it_does_not_serve_is_refused_in_words(
    registry, build_host_image, reference, changes, words
):
    with pytest.raises(registry_check.ManifestUnavailable) as refused:
        serve(registry, reference, **changes)
    assert words in str(refused.value)
