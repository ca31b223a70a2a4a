"""Connecting to a real build host with the real docker CLI: the docker
context file dchweb serves (`docker context import`, then `docker --context
NAME info`), and each way of connecting its page shows, run as written.

Every docker command runs with a config folder of the test's own (`--config`
or DOCKER_CONFIG) and without the devstack's DOCKER_* variables, so it reaches
the build host only through what dchweb handed out, and the user's own
contexts are never touched."""

import os
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from hosts.buildhosts import commands as buildhosts
from hosts.buildhosts import connect
from hosts.models import BuildHost
from tests.support import world

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DOCKER = shutil.which("docker")
DOCKER_TIMEOUT = 60


@pytest.fixture(autouse=True)
def docker_cli():
    if DOCKER is None:
        pytest.fail("the docker CLI is missing: devstack/up installs it")


def cli_environment(home):
    """The environment of a user whose home is `home`: no DOCKER_* of the
    devstack's, and docker's config (its contexts) inside that home."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("DOCKER_")
    }
    environment["HOME"] = str(home)
    environment["DOCKER_CONFIG"] = str(home / ".docker")
    return environment


def run(command, home, cwd=None):
    return subprocess.run(
        command,
        env=cli_environment(home),
        cwd=cwd or home,
        capture_output=True,
        text=True,
        timeout=DOCKER_TIMEOUT,
        shell=isinstance(command, str),
        executable="/bin/bash" if isinstance(command, str) else None,
    )


def assert_engine_answered(result):
    """`docker info` printed the build host's side (not only the client's)."""
    assert result.returncode == 0, result.stderr
    assert "Server Version:" in result.stdout, result.stdout + result.stderr


def test_the_downloaded_docker_context_opens_the_build_host(
    ready_host, developer_token, tmp_path
):
    owner = Client(HTTP_AUTHORIZATION=f"Bearer {developer_token}")

    answer = owner.get(f"/api/v1/build-hosts/{ready_host.pk}/docker-context")

    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/x-tar"
    filename = connect.docker_context_filename(ready_host)
    assert answer["Content-Disposition"] == f'attachment; filename="{filename}"'
    context_file = tmp_path / filename
    context_file.write_bytes(answer.content)
    config = tmp_path / "docker-config"
    name = "my-build-host"

    imported = run(
        [DOCKER, "--config", str(config), "context", "import", name, str(context_file)],
        tmp_path,
    )
    info = run(
        [DOCKER, "--config", str(config), "--context", name, "info"],
        tmp_path,
    )

    assert imported.returncode == 0, imported.stderr
    assert_engine_answered(info)
    # It is the build host that answered, not the engine it runs on: its
    # engine is its own, holding none of the devstack's containers.
    assert f"Name: {ready_host.container_id[:12]}" in info.stdout
    shown = run(
        [DOCKER, "--config", str(config), "context", "inspect", name],
        tmp_path,
    )
    assert ready_host.docker_host in shown.stdout


def test_the_page_offers_the_same_file_with_the_session(
    ready_host, developer, tmp_path
):
    browser = Client()
    browser.force_login(developer)

    answer = browser.get(f"/build-hosts/{ready_host.pk}/docker-context")

    assert answer.status_code == 200
    context_file = tmp_path / "from-the-page.dockercontext"
    context_file.write_bytes(answer.content)
    name = connect.context_name(ready_host)
    imported = run([DOCKER, "context", "import", name, str(context_file)], tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert_engine_answered(run([DOCKER, "--context", name, "info"], tmp_path))


def test_every_way_the_page_shows_connects_as_written(ready_host, tmp_path):
    """The unzip step, then the environment variables, `docker context
    create` and the flags, each run by bash in a fresh home, as a user pastes
    them; and the import of the docker context file by the name shown."""
    commands = connect.connect_commands(ready_host)
    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    (downloads / ready_host.tls_bundle_filename).write_bytes(
        buildhosts.tls_bundle(ready_host)
    )
    (downloads / connect.docker_context_filename(ready_host)).write_bytes(
        connect.docker_context_file(ready_host)
    )

    unzipped = run(commands["unzip"], tmp_path, cwd=downloads)

    assert unzipped.returncode == 0, unzipped.stderr
    folder = tmp_path / "dchweb" / ready_host.short_id
    assert sorted(path.name for path in folder.iterdir()) == [
        "ca.pem",
        "cert.pem",
        "key.pem",
    ]
    assert_engine_answered(run(commands["environment"], tmp_path))
    assert_engine_answered(run(commands["context"], tmp_path))
    assert_engine_answered(run(commands["flags"], tmp_path))
    assert_engine_answered(run(commands["import"], tmp_path, cwd=downloads))


def test_only_the_owner_with_a_token_gets_it_and_only_while_ready(
    ready_host, developer_token, other_developer, developer, endpoint
):
    path = f"/api/v1/build-hosts/{ready_host.pk}/docker-context"
    stranger = Client(HTTP_AUTHORIZATION=f"Bearer {world.api_token(other_developer)}")
    owner = Client(HTTP_AUTHORIZATION=f"Bearer {developer_token}")
    waiting = BuildHost.objects.create(
        owner=developer,
        endpoint=endpoint,
        name="not-yet",
        image="x",
        state=BuildHost.State.PROVISIONING,
        expires_at=timezone.now() + timedelta(hours=1),
    )

    assert Client().get(path).status_code == 401
    assert stranger.get(path).status_code == 404
    refused = owner.get(f"/api/v1/build-hosts/{waiting.pk}/docker-context")
    assert refused.status_code == 409
    assert refused.json() == {
        "error": "not_ready",
        "detail": "build host “not-yet” is provisioning: its docker context can "
        "be downloaded while it is ready",
    }
    # A host dchweb found on the engine rather than made has no certificate
    # of the owner's to hand out.
    adopted = BuildHost.objects.create(
        owner=developer,
        endpoint=endpoint,
        name="adopted",
        image="x",
        state=BuildHost.State.READY,
        port=ready_host.port,
        adopted=True,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    refused = owner.get(f"/api/v1/build-hosts/{adopted.pk}/docker-context")
    assert refused.status_code == 409
    assert refused.json()["error"] == "no_certificate"
    # The page's door: another's host is not there, a waiting one says why.
    page = Client()
    page.force_login(other_developer)
    assert page.get(f"/build-hosts/{ready_host.pk}/docker-context").status_code == 404
    page.force_login(developer)
    not_ready = page.get(f"/build-hosts/{waiting.pk}/docker-context")
    assert not_ready.status_code == 409
    assert "Not ready to connect" in not_ready.content.decode()
