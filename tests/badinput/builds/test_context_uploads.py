"""Hostile build contexts through the API, with the real limits (not lowered
as in the unit tests): each a 400 that says what is wrong, and nothing saved
(no row, no stored file, nothing enqueued, no audit event). What tests/unit
already covers (paths and links escaping the context; an oversize upload and
an archive that unpacks too large under lowered limits) is not repeated here."""

import gzip
import tarfile
import time
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from hosts.builds import contexts
from hosts.models import AuditEvent, Build, BuildHost, Endpoint, Registry
from tests.support.contexts import archive
from tests.support.world import api_token

pytestmark = [pytest.mark.badinput, pytest.mark.django_db, pytest.mark.timeout(120)]

TAG = "registry.test:5443/default-project/app:1"
# Each refusal comes quickly: the archive is refused at a member header,
# never unpacked.
ANSWER_SECONDS = 20


def header(name, size=0, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.size, info.type, info.linkname = size, kind, linkname
    info.mtime = int(time.time())
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 1, 3  # /dev/null's numbers
    return info.tobuf(format=tarfile.USTAR_FORMAT)


DOCKERFILE = header("Dockerfile", 13) + b"FROM scratch\n".ljust(512, b"\0")
END = b"\0" * 1024


def gzip_bomb():
    """5 MB of gzip that claims, and unpacks to, 5 GiB of zeros after a good
    Dockerfile: gzip members of 64 MiB of zeros each, one after another."""
    zeros = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    start = gzip.compress(DOCKERFILE + header("zeros", 80 * 64 * 1024 * 1024))
    return start + zeros * 80 + gzip.compress(END)


def zeros_only():
    """A gzip of 1 GiB of nothing: no tar header at all."""
    return gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9) * 16


def many_members():
    """A tar.gz of the Dockerfile and as many empty files as the limit allows:
    one member past it. (Twice the limit cost twice the time to make, and
    refused no differently: the check stops at the first member too many.)"""
    count = contexts.MAX_MEMBERS
    headers = b"".join(header(f"f/{number}") for number in range(count))
    return gzip.compress(DOCKERFILE + headers + END, compresslevel=1)


def with_member(name, kind, linkname=""):
    return archive(
        {"Dockerfile": b"FROM scratch\n"},
        extra=[_info(name, kind, linkname)],
    )


def _info(name, kind, linkname):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = 8, 0
    return info


HOSTILE_CONTEXTS = {
    "gzip bomb": (gzip_bomb, "unpacks to more than"),
    "gzip of zeros, no tar": (zeros_only, "has no Dockerfile"),
    "100,001 tiny members": (many_members, "more than 100000 files"),
    "a character device": (
        lambda: with_member("dev/null", tarfile.CHRTYPE),
        "is a device or a pipe",
    ),
    "a block device": (
        lambda: with_member("sda", tarfile.BLKTYPE),
        "is a device or a pipe",
    ),
    "a fifo": (lambda: with_member("pipe", tarfile.FIFOTYPE), "device or a pipe"),
    "a hard link out of the context": (
        lambda: with_member("passwd", tarfile.LNKTYPE, "../../etc/passwd"),
        "hard link",
    ),
}


@pytest.fixture
def ready_host(developer):
    endpoint = Endpoint.objects.create(
        name="uploads",
        docker_url="tcp://127.0.0.1:1",
        tls_mode=Endpoint.TlsMode.NONE,
        publish_host="127.0.0.1",
    )
    Registry.objects.create(name="r", address="registry.test:5443")
    return BuildHost.objects.create(
        owner=developer,
        endpoint=endpoint,
        name="h",
        image="i",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timezone.timedelta(hours=1),
    )


@pytest.mark.parametrize("case", HOSTILE_CONTEXTS)
def test_a_hostile_context_is_a_400_and_nothing_is_kept(
    developer, ready_host, data_dir, django_capture_on_commit_callbacks, case
):
    make, words = HOSTILE_CONTEXTS[case]
    upload = SimpleUploadedFile("context.tar.gz", make())
    started = time.monotonic()

    with (
        mock.patch("hosts.builds.tasks.run_build.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = Client().post(
            "/api/v1/builds",
            {"tag": TAG, "build_host_id": str(ready_host.pk), "context": upload},
            HTTP_AUTHORIZATION=f"Bearer {api_token(developer)}",
        )

    assert time.monotonic() - started < ANSWER_SECONDS
    assert response.status_code == 400, response.content[:300]
    answer = response.json()
    assert answer["error"] == "invalid_build", answer
    assert words in answer["detail"], answer
    assert Build.objects.count() == 0 and delay.call_count == 0
    assert list(contexts.contexts_dir().iterdir()) == []
    assert not AuditEvent.objects.filter(action__startswith="build.").exists()
