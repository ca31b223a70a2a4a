"""Asking for a build: contexts are checked member by member before use, and
every bad field is a 400 that says what, with nothing stored or enqueued.
(The builds themselves run in tests/integration/builds/test_builds.py.)"""

import gzip
import io
import tarfile
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from hosts.builds import contexts
from hosts.models import Build, BuildHost, Endpoint, Registry
from tests.support.contexts import archive, plain, symlink

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]

TAG = "registry.test:5443/default-project/app:1"


@pytest.fixture
def registry():
    return Registry.objects.create(name="r", address="registry.test:5443")


@pytest.fixture
def ready_host(developer):
    endpoint = Endpoint.objects.create(
        name="e",
        docker_url="unix:///nonexistent.sock",
        tls_mode="none",
        publish_host="127.0.0.1",
    )
    return BuildHost.objects.create(
        owner=developer,
        endpoint=endpoint,
        name="h",
        image="i",
        state=BuildHost.State.READY,
        expires_at=timezone.now(),
    )


@pytest.fixture
def post(developer_token, django_capture_on_commit_callbacks):
    def send(context=None, **fields):
        data = {key: str(value) for key, value in fields.items()}
        if context is not None:
            data["context"] = SimpleUploadedFile("c.tar", context)
        with (
            mock.patch("hosts.builds.tasks.run_build.delay") as delay,
            django_capture_on_commit_callbacks(execute=True),
        ):
            answer = Client().post(
                "/api/v1/builds",
                data=data,
                HTTP_AUTHORIZATION=f"Bearer {developer_token}",
            )
        answer.enqueued = delay.call_count
        return answer

    return send


def good_context():
    return archive({"Dockerfile": b"FROM scratch\n", "app/file": b"x"})


def test_a_good_request_is_stored_and_enqueued(post, ready_host, registry, data_dir):
    answer = post(good_context(), tag=TAG, build_host_id=ready_host.pk)

    assert answer.status_code == 202, answer.content
    build = Build.objects.get()
    assert build.registry == registry and build.tags == [TAG]
    assert (data_dir / "contexts" / build.context_name).exists()
    assert answer.enqueued == 1


@pytest.mark.parametrize(
    ("context", "fields", "message"),
    [
        (archive({"Dockerfile": b"x"}, extra=[plain("../escape")]), {}, "outside"),
        (archive({"Dockerfile": b"x"}, extra=[plain("a/../../b")]), {}, "outside"),
        (archive({"Dockerfile": b"x"}, extra=[plain("/abs")]), {}, "outside"),
        (archive({"Dockerfile": b"x"}, extra=[symlink("l", "/etc")]), {}, "outside"),
        (
            archive({"Dockerfile": b"x"}, extra=[symlink("d/l", "../../x")]),
            {},
            "outside",
        ),
        (archive({"README": b"x"}), {}, "has no Dockerfile"),
        (
            archive({"Dockerfile": b"x"}),
            {"dockerfile": "build/Dockerfile"},
            "no build/",
        ),
        (archive({"Dockerfile": b"x"}), {"dockerfile": "../Dockerfile"}, "inside"),
        (b"this is not a tar archive at all" * 20, {}, "not a tar or tar.gz"),
        (gzip.compress(b"not a tar inside") * 3, {}, "not a tar or tar.gz"),
        (good_context(), {"tag": "NoUpperCase/x:1"}, "is not <registry>"),
        (
            good_context(),
            {"tag": "unknown.example:5000/p/x:1"},
            "not a registry dchweb",
        ),
        (good_context(), {"build_args": "[1, 2]"}, "build arguments are a JSON"),
        (good_context(), {"build_args": '{"bad name": "x"}'}, "build argument"),
        (good_context(), {"target": "no spaces"}, "is not a stage name"),
        (good_context(), {"cache_from": "Not An Image"}, "is not an image name"),
        (good_context(), {"cache_from": " ".join(["a:1"] * 11)}, "at most 10 cache"),
        (good_context(), {"labels": "[1]"}, "labels are a JSON object"),
        (good_context(), {"labels": '{"bad name": "x"}'}, "names are letters"),
        (good_context(), {"labels": '{"io.dchweb.owner": "x"}'}, "dchweb's own"),
        (good_context(), {"labels": '{"a": "' + "x" * 1001 + '"}'}, "at most 1000"),
        (good_context(), {"build_host_id": "no-such-host"}, "no build host"),
        (good_context(), {"endpoint_id": 1}, "not both"),
    ],
)
def test_bad_input_is_a_400_and_nothing_is_kept(
    post, ready_host, registry, data_dir, context, fields, message
):
    request = {"tag": TAG, "build_host_id": ready_host.pk, **fields}

    answer = post(context, **request)

    assert answer.status_code == 400, answer.content
    assert answer.json()["error"] == "invalid_build"
    assert message in answer.json()["detail"]
    assert Build.objects.count() == 0 and answer.enqueued == 0
    assert list((data_dir / "contexts").glob("*")) == []


def test_an_oversize_upload_is_refused(post, ready_host, registry, settings):
    settings.DCHWEB_MAX_CONTEXT_BYTES = 100
    answer = post(good_context(), tag=TAG, build_host_id=ready_host.pk)
    assert answer.status_code == 400
    assert "the most allowed is 100" in answer.json()["detail"]


def test_an_archive_that_unpacks_too_large_is_refused(
    post, ready_host, registry, settings
):
    settings.DCHWEB_MAX_CONTEXT_UNPACKED_BYTES = 1000
    bomb = archive({"Dockerfile": b"x", "zeros": b"\0" * 5000}, gzipped=True)
    answer = post(bomb, tag=TAG, build_host_id=ready_host.pk)
    assert answer.status_code == 400
    assert "unpacks to more than 1000 bytes" in answer.json()["detail"]


def test_the_build_options_are_stored_as_given(post, ready_host, registry):
    answer = post(
        good_context(),
        tag=TAG,
        build_host_id=ready_host.pk,
        cache_from=f"{TAG}, registry.test:5443/default-project/base:2 {TAG}",
        target="final",
        no_cache="true",
        pull="true",
        labels='{"org.example.team": "web", "build": 7}',
    )

    assert answer.status_code == 202, answer.content
    build = Build.objects.get()
    assert build.cache_from == [TAG, "registry.test:5443/default-project/base:2"]
    assert (build.target, build.no_cache, build.pull) == ("final", True, True)
    assert build.labels == {"org.example.team": "web", "build": "7"}
    assert answer.json()["labels"] == build.labels


def test_a_host_that_is_not_ready_is_refused(post, ready_host, registry):
    ready_host.state = BuildHost.State.PROVISIONING
    ready_host.save()
    answer = post(good_context(), tag=TAG, build_host_id=ready_host.pk)
    assert answer.status_code == 400
    assert "not ready" in answer.json()["detail"]


def test_a_written_dockerfile_becomes_a_context(post, ready_host, registry, data_dir):
    answer = post(
        tag=TAG, build_host_id=ready_host.pk, dockerfile_text="FROM scratch\n"
    )
    assert answer.status_code == 202, answer.content
    build = Build.objects.get()
    with tarfile.open(data_dir / "contexts" / build.context_name) as made:
        assert made.extractfile("Dockerfile").read() == b"FROM scratch\n"


def test_links_inside_the_context_are_fine(tmp_path):
    path = tmp_path / "c.tar"
    path.write_bytes(
        archive({"Dockerfile": b"x", "lib/a": b"y"}, extra=[symlink("lib/b", "a")])
    )
    contexts.check_archive(path, "Dockerfile")


def test_log_reads_by_offset_and_tail(data_dir):
    from hosts.builds import logs as buildlogs

    build_id = "b1"
    for number in range(8000):
        buildlogs.append(build_id, f"line {number}\n")
    data, next_offset = buildlogs.read(build_id, 0)
    assert len(data) == buildlogs.MAX_CHUNK_BYTES == next_offset
    text, end, cut = buildlogs.tail(build_id, limit=100)
    assert cut and text.endswith("line 7999\n") and text.startswith("line ")
    assert end == buildlogs.size(build_id)
    assert buildlogs.read(build_id, end) == (b"", end)
    assert io.BytesIO(data).read(7) == b"line 0\n"


def test_a_body_over_the_limit_is_refused_before_it_is_read(developer_token, settings):
    settings.DCHWEB_MAX_CONTEXT_BYTES = 10
    answer = Client().generic(
        "POST",
        "/api/v1/builds",
        data=b"x" * (2 * 1024 * 1024),
        content_type="application/octet-stream",
        HTTP_AUTHORIZATION=f"Bearer {developer_token}",
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "too_large"
