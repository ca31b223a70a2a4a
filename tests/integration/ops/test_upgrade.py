"""An upgrade: a database the previous release wrote, with its build hosts
running on the engine, is migrated to this release, and the hosts stay ready
and usable (issue 17).

The fixture (tests/fixtures/upgrade/, made by that release's own code with
make_fixture.py) is loaded at that release's migrations; its hosts run again
from the record of what the release put on the engine; the endpoint and the
registry rows are pointed at this run's devstack, as an operator would. Then
`migrate`, and this release's code meets the old rows and the old containers.
"""

import io
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from hosts.buildhosts import reconciler
from hosts.models import AuditEvent, Build, BuildHost
from tests.support import upgrade
from tests.support.buildhost import mutual_tls_client, wait_until_pinged
from tests.support.builds import post_build, unique_tag, wait_final
from tests.support.contexts import archive
from tests.support.hostcheck import engine_objects

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Names make_fixture.py gave the fixture's rows.
RUNNING_HOST, REMOVED_HOST = "alice-main", "alice-gone"
OWNER_TOKEN, READ_TOKEN, ADMIN_TOKEN = "alice-ci", "alice-dashboard-read", "root-ops"
# What the reconciler reports besides what it did.
COUNTS = {"database", "engine", "engine_volumes", "error"}


@pytest.fixture
def eager_tasks():
    """Tasks run in the test's process: the fixture's encryption key, set
    here, is the one they need (a worker process has the devstack's)."""
    from dchweb.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def previous_release(engine, build_host_image, devstack, settings, data_dir):
    """The test database as the previous release left it, its hosts running."""
    fixture = upgrade.read_fixture()
    # An upgrade keeps the installation's key; the fixture's secrets need it.
    settings.DCHWEB_ENCRYPTION_KEY = fixture.encryption_key
    upgrade.remove_from_engine(engine, fixture)  # a run killed half-way
    try:
        apps = upgrade.previous_database(fixture)
        upgrade.repoint_to_devstack(apps, fixture, devstack)
        upgrade.start_hosts(engine, apps, fixture, devstack)
        yield fixture
    finally:
        # Whatever failed, the tests after this one find today's schema.
        upgrade.migrate_to_latest()
        upgrade.remove_from_engine(engine, fixture)


def test_hosts_of_the_previous_release_stay_ready_and_usable_after_migrate(
    previous_release, eager_tasks, engine, devstack, settings, tmp_path
):
    fixture = previous_release
    upgrade.migrate_to_latest()

    assert_audit_trail_whole(fixture)
    host = BuildHost.objects.get(name=RUNNING_HOST)
    assert_reconciler_keeps(host, engine, settings)
    assert_signs_in_as_before(fixture)

    owner = api_client(fixture.api_token(OWNER_TOKEN))
    assert_api_shows_ready(owner, host)
    assert_api_shows_ready(api_client(fixture.api_token(ADMIN_TOKEN)), host)
    reader = api_client(fixture.api_token(READ_TOKEN))
    assert_api_shows_ready(reader, host)
    refused = reader.post(
        f"/api/v1/build-hosts/{host.pk}/extend",
        {"minutes": 30},
        content_type="application/json",
    )
    assert refused.status_code == 403, "a read-only token of the release wrote"

    assert_owner_bundle_opens(owner, host, tmp_path)
    assert_build_runs(owner, host, devstack)


def api_client(token):
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def assert_audit_trail_whole(fixture):
    """Every event the release recorded, unchanged, and none added."""

    def key(event):
        return (
            event["id"],
            event["action"],
            event["actor_id"],
            event["object_type"],
            event["object_id"],
            event["source"],
        )

    recorded = sorted(key(event) for event in fixture.rows("hosts.auditevent"))
    fields = ("id", "action", "actor_id", "object_type", "object_id", "source")
    now = sorted(key(event) for event in AuditEvent.objects.values(*fields))
    assert now == recorded


def assert_reconciler_keeps(host, engine, settings):
    """As many passes as it takes to call a host missing, with no grace: the
    hosts are as old as their rows say. Nothing adopted, missed, restarted
    or removed; the host still ready, its container and volumes there."""
    settings.DCHWEB_RECONCILE_GRACE_SECONDS = 0
    for _ in range(reconciler.MISSES_BEFORE_MISSING):
        summary = reconciler.reconcile_endpoint(host.endpoint_id)
        assert summary["error"] == "", summary
        assert set(summary) == COUNTS, f"the reconciler acted: {summary}"
    assert (summary["database"], summary["engine"], summary["engine_volumes"]) == (
        1,
        1,
        2,
    )
    host.refresh_from_db()
    assert (host.state, host.missed_listings, host.error) == (
        BuildHost.State.READY,
        0,
        "",
    )
    containers, volumes = engine_objects(engine, host)
    assert [container.status for container in containers] == ["running"]
    assert sorted(volume.name for volume in volumes) == sorted(host.volume_names)
    removed = BuildHost.objects.get(name=REMOVED_HOST)
    assert removed.state == BuildHost.State.REMOVED


def assert_signs_in_as_before(fixture):
    for row in fixture.rows("auth.user"):
        user = get_user_model().objects.get(pk=row["id"])
        assert user.check_password(f"{user.username}-password-1"), user.username


def assert_api_shows_ready(client, host):
    answer = client.get(f"/api/v1/build-hosts/{host.pk}")
    assert answer.status_code == 200, answer.content
    shown = answer.json()
    assert (shown["state"], shown["docker_host"]) == ("ready", host.docker_host)


def assert_owner_bundle_opens(client, host, tmp_path):
    """The bundle the owner downloads opens the host: /_ping and docker info."""
    answer = client.get(f"/api/v1/build-hosts/{host.pk}/tls-bundle")
    assert answer.status_code == 200, answer.content
    cert_dir = tmp_path / "bundle"
    with zipfile.ZipFile(io.BytesIO(answer.content)) as bundle:
        bundle.extractall(cert_dir)
    url = f"https://127.0.0.1:{host.port}"
    wait_until_pinged(url, cert_dir)
    docker = mutual_tls_client(url, cert_dir)
    try:
        assert docker.info()["ServerVersion"]
    finally:
        docker.close()


def assert_build_runs(client, host, devstack):
    """A build on the host, pushed to the registry the release knew."""
    context = archive(
        {
            "Dockerfile": b"FROM scratch\nCOPY greeting.txt /greeting.txt\n",
            "greeting.txt": b"built after the upgrade\n",
        },
        gzipped=True,
    )
    answer = post_build(
        client, context, tag=unique_tag(devstack, "upgraded"), build_host_id=host.pk
    )
    assert answer.status_code == 202, answer.content
    build = wait_final(answer.json()["id"])
    assert build.state == Build.State.SUCCEEDED, build.error
    assert build.digest.startswith("sha256:")
