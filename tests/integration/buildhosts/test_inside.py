"""Inside a real build host through the API: what dchweb reads over the host's
mutual-TLS engine API (containers, images, disk use), and Trim, which prunes
its dangling images in a worker and records what it reclaimed.

The images are built inside the host with its owner's TLS bundle, as a
developer would with `docker --tlsverify build`; the engine is asked
directly what is left after a trim."""

import io
import os
import socket
from datetime import timedelta
from unittest import mock

import docker
import docker.errors
import pytest
from django.test import Client
from django.utils import timezone

from hosts.buildhosts import commands as buildhosts
from hosts.models import AuditEvent, BuildHost, BuildHostStep
from tests.support import world
from tests.support.buildhost import tar_of
from tests.support.hostcheck import bundle_dir
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TAG = "dchweb-test/inside:1"
BLOB_BYTES = 400_000


def host_engine(host, directory):
    """A docker client on the host's API with its owner's bundle."""
    certs = bundle_dir(host, directory)
    tls = docker.tls.TLSConfig(
        client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")),
        ca_cert=str(certs / "ca.pem"),
        verify=True,
    )
    url = host.docker_host.replace("tcp://", "https://")
    # A version given: docker-py would otherwise ask for it at once, with
    # requests trusting REQUESTS_CA_BUNDLE over the host's own CA.
    client = docker.DockerClient(base_url=url, tls=tls, timeout=120, version="1.41")
    client.api.trust_env = False
    return client


def build_inside(client, tag=TAG):
    """A tiny image (one file of random bytes) built on the host; building
    it again under the same tag leaves the previous one dangling."""
    context = tar_of(
        {
            "Dockerfile": b"FROM scratch\nCOPY blob /blob\n",
            "blob": os.urandom(BLOB_BYTES),
        }
    )
    image, _ = client.images.build(
        fileobj=io.BytesIO(context), custom_context=True, tag=tag, rm=True
    )
    return image.id


def api(method, path, token=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return Client().generic(method, path, **headers)


def inside_path(host):
    return f"/api/v1/build-hosts/{host.pk}/inside"


def trim_path(host):
    return f"/api/v1/build-hosts/{host.pk}/trim"


def test_inside_lists_what_was_built_in_the_host_and_trim_reclaims_the_dangling_image(
    ready_host, developer, tmp_path
):
    token = world.api_token(developer)
    client = host_engine(ready_host, tmp_path / "bundle")
    dangling_id = build_inside(client)
    tagged_id = build_inside(client)
    assert dangling_id != tagged_id

    answer = api("GET", inside_path(ready_host), token)

    assert answer.status_code == 200, answer.content
    inside = answer.json()
    images = {image["id"]: image for image in inside["images"]}
    assert images[tagged_id]["tags"] == [TAG]
    assert images[dangling_id]["dangling"] is True
    assert images[dangling_id]["size_bytes"] >= BLOB_BYTES
    assert inside["disk"]["images_bytes"] >= 2 * BLOB_BYTES
    assert inside["disk"]["dangling_images_bytes"] >= BLOB_BYTES
    assert set(inside["disk"]) >= {"images_bytes", "build_cache_bytes", "volumes_bytes"}
    assert inside["containers"] == []
    assert inside["last_trim"] is None

    started = api("POST", trim_path(ready_host), token)

    assert started.status_code == 202, started.content
    assert started.json()["state"] == "running"
    step = BuildHostStep.objects.get(build_host=ready_host, name="trim")
    wait_until(
        lambda: BuildHostStep.objects.get(pk=step.pk).status != "running",
        "the trim to end",
    )
    step.refresh_from_db()
    assert step.status == "done", step.error
    assert step.detail.startswith("reclaimed ")
    # The engine itself: the dangling image is gone, the tagged one stays.
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(dangling_id)
    assert client.images.get(tagged_id).tags == [TAG]
    event = AuditEvent.objects.get(action="build_host.trimmed")
    assert event.object_id == str(ready_host.pk)
    assert event.details["reclaimed_bytes"] >= BLOB_BYTES
    assert event.details["images_deleted"] == 1
    after = api("GET", inside_path(ready_host), token).json()
    assert dangling_id not in {image["id"] for image in after["images"]}
    assert after["last_trim"]["state"] == "done"
    assert after["last_trim"]["reclaimed_bytes"] == event.details["reclaimed_bytes"]
    client.close()


def test_inside_lists_a_container_made_in_the_host(ready_host, developer, tmp_path):
    client = host_engine(ready_host, tmp_path / "bundle")
    build_inside(client)
    client.containers.create(TAG, command=["/blob"], name="made-by-alice")

    inside = api("GET", inside_path(ready_host), world.api_token(developer)).json()

    (container,) = inside["containers"]
    assert container["name"] == "made-by-alice"
    assert container["image"] == TAG
    assert container["state"] == "created"
    image = next(image for image in inside["images"] if image["tags"] == [TAG])
    assert image["containers"] == 1
    client.close()


def test_another_developer_gets_404_and_no_token_401(
    ready_host, developer, other_developer, admin
):
    stranger = world.api_token(other_developer)

    for method, path in (
        ("GET", inside_path(ready_host)),
        ("POST", trim_path(ready_host)),
    ):
        assert api(method, path, stranger).status_code == 404
        assert api(method, path).status_code == 401
    assert not BuildHostStep.objects.filter(name="trim").exists()
    # An admin sees inside anyone's host.
    assert (
        api("GET", inside_path(ready_host), world.api_token(admin)).status_code == 200
    )


def test_an_engine_that_does_not_answer_is_503_with_the_reason(ready_host, developer):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    BuildHost.objects.filter(pk=ready_host.pk).update(port=closed_port)

    answer = api("GET", inside_path(ready_host), world.api_token(developer))

    assert answer.status_code == 503
    assert answer.json()["error"] == "engine_unavailable"
    assert "connection refused" in answer.json()["detail"]


# --- Without a worker: the request side alone ---------------------------------------


def saved_host(owner, state, port=None):
    return BuildHost.objects.create(
        owner=owner,
        endpoint=world.unreachable_endpoint(),
        name=f"inside-{state}",
        image="registry.test:5443/p/i:1",
        state=state,
        port=port,
        expires_at=timezone.now() + timedelta(hours=1),
    )


def test_a_host_not_ready_is_409_in_words(developer):
    token = world.api_token(developer)
    host = saved_host(developer, BuildHost.State.PROVISIONING)

    looked = api("GET", inside_path(host), token)
    trimmed = api("POST", trim_path(host), token)

    assert looked.status_code == 409
    assert looked.json() == {
        "error": "not_running",
        "detail": "the build host is provisioning: only a running build host can "
        "be looked into",
    }
    assert trimmed.status_code == 409
    assert trimmed.json()["error"] == "not_ready"


def test_a_busy_host_is_not_trimmed_under_its_build(developer):
    host = saved_host(developer, BuildHost.State.BUSY, port=1)

    answer = api("POST", trim_path(host), world.api_token(developer))

    assert answer.status_code == 409
    assert "busy with a build" in answer.json()["detail"]


def test_trim_asked_twice_while_it_runs_starts_one(developer):
    token = world.api_token(developer)
    host = saved_host(developer, BuildHost.State.READY, port=1)

    with mock.patch("hosts.buildhosts.tasks.trim_build_host.delay") as enqueue:
        first = api("POST", trim_path(host), token)
        second = api("POST", trim_path(host), token)

    assert (first.status_code, second.status_code) == (202, 202)
    assert BuildHostStep.objects.filter(build_host=host, name="trim").count() == 1
    step = BuildHostStep.objects.get(build_host=host, name="trim")
    enqueue.assert_called_once_with(str(host.pk), step.pk)
    assert second.json()["started_at"] == first.json()["started_at"]
    assert buildhosts.last_trim(host).running
    # The page's button says so, and cannot be pressed until it ends.
    browser = Client()
    browser.force_login(developer)
    section = browser.get(
        f"/build-hosts/{host.pk}/inside", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'hx-disabled-elt="this" disabled>Trimming…</button>' in section
    assert 'hx-trigger="every 2s"' in section


def test_the_pages_section_says_in_words_why_it_cannot_read_the_engine(
    ready_host, developer
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    BuildHost.objects.filter(pk=ready_host.pk).update(port=closed_port)
    browser = Client()
    browser.force_login(developer)

    answer = browser.get(f"/build-hosts/{ready_host.pk}/inside", HTTP_HX_REQUEST="true")

    body = answer.content.decode()
    assert answer.status_code == 200
    assert "Could not read inside the build host</strong>: nothing answers" in body
    # The engine's own words once, folded under the summary.
    assert body.count("connection refused") == 1
    assert "<details><summary>What the engine said</summary>" in body
    # A plain visit is sent to the host's page, not shown a bare fragment.
    plain = browser.get(f"/build-hosts/{ready_host.pk}/inside")
    assert plain.status_code == 302
    assert plain.url == f"/build-hosts/{ready_host.pk}/#build-host-inside"


def test_a_trim_left_running_by_a_dead_worker_does_not_block_the_next(developer):
    host = saved_host(developer, BuildHost.State.READY, port=1)
    left = BuildHostStep.objects.create(
        build_host=host, name="trim", started_at=timezone.now() - timedelta(hours=1)
    )

    with mock.patch("hosts.buildhosts.tasks.trim_build_host.delay") as enqueue:
        answer = api("POST", trim_path(host), world.api_token(developer))

    assert answer.status_code == 202
    left.refresh_from_db()
    assert (left.status, left.reason) == ("failed", "interrupted")
    new = BuildHostStep.objects.get(build_host=host, name="trim", status="running")
    enqueue.assert_called_once_with(str(host.pk), new.pk)
