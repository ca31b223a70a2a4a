"""Builds on build hosts, through the API and the real worker: the image is
built, pushed, verified in the registry, and pulled back by its digest."""

import time

import pytest
from django.test import Client

from hosts.builds import contexts
from hosts.builds import logs as buildlogs
from hosts.models import AuditEvent, Build, BuildHost
from tests.support import world
from tests.support.builds import post_build, unique_tag, wait_final
from tests.support.contexts import archive, hello_context, plain, slow_context, symlink
from tests.support.hostcheck import engine_objects, wait_settled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def as_developer(developer_token):
    return Client(HTTP_AUTHORIZATION=f"Bearer {developer_token}")


def test_built_pushed_and_pulled_back_by_the_reported_digest(
    ready_host, as_developer, devstack, busybox, engine, registry_auth
):
    tag = unique_tag(devstack)

    answer = post_build(
        as_developer, hello_context(busybox), tag=tag, build_host_id=ready_host.pk
    )
    assert answer.status_code == 202, answer.content
    build = wait_final(answer.json()["id"])

    assert build.state == Build.State.SUCCEEDED, build.error
    assert build.digest.startswith("sha256:")
    shown = as_developer.get(f"/api/v1/builds/{build.pk}").json()
    assert shown["digest"] == build.digest and shown["state"] == "succeeded"
    repository = tag.rsplit(":", 1)[0]
    pulled = engine.images.pull(
        f"{repository}@{build.digest}", auth_config=registry_auth
    )
    output = engine.containers.run(pulled.id, remove=True, network=devstack["network"])
    assert output.decode().strip() == "hello from dchweb"
    log = as_developer.get(f"/api/v1/builds/{build.pk}/log")
    assert "COPY busybox" in log.content.decode()
    assert int(log["X-Next-Offset"]) == len(log.content)
    ready_host.refresh_from_db()
    assert ready_host.state == BuildHost.State.READY
    assert not contexts.path_of(build.context_name).exists()
    trail = AuditEvent.objects.filter(object_id=str(build.pk))
    assert {"build.created", "build.pushed", "build.succeeded"} <= set(
        trail.values_list("action", flat=True)
    )


def test_the_log_is_served_by_offset(ready_host, as_developer, devstack, busybox):
    answer = post_build(
        as_developer,
        hello_context(busybox),
        tag=unique_tag(devstack),
        build_host_id=ready_host.pk,
        push="false",
    )
    build = wait_final(answer.json()["id"])
    assert build.state == Build.State.SUCCEEDED, build.error

    whole = b""
    offset = 0
    while True:
        part = as_developer.get(f"/api/v1/builds/{build.pk}/log?offset={offset}")
        if not part.content:
            break
        whole += part.content
        offset = int(part["X-Next-Offset"])
    assert whole == buildlogs.path_of(build.pk).read_bytes()
    assert offset == len(whole) > 0


@pytest.mark.parametrize(
    ("policy", "volumes_left"), [("delete", 0), ("keep", 2)], ids=["delete", "keep"]
)
def test_the_ephemeral_pipeline_removes_its_build_host(
    celery_worker,
    endpoint,
    registry,
    as_developer,
    devstack,
    busybox,
    engine,
    leftovers,
    policy,
    volumes_left,
):
    answer = post_build(
        as_developer,
        hello_context(busybox),
        tag=unique_tag(devstack),
        endpoint_id=endpoint.pk,
        volume_policy=policy,
    )
    assert answer.status_code == 202, answer.content
    build = wait_final(answer.json()["id"])
    assert build.state == Build.State.SUCCEEDED, build.error
    host = wait_settled(BuildHost.objects.get(pk=build.build_host_id))

    assert host.state == BuildHost.State.REMOVED
    containers, volumes = engine_objects(engine, host)
    assert containers == []
    assert sorted(v.name for v in volumes) == (
        sorted(host.volume_names) if volumes_left else []
    )


def test_a_push_with_a_wrong_password_fails_with_the_registrys_message(
    ready_host, registry, as_developer, devstack, busybox
):
    registry.set_password("not-the-password")
    registry.save()

    answer = post_build(
        as_developer,
        hello_context(busybox),
        tag=unique_tag(devstack),
        build_host_id=ready_host.pk,
    )
    build = wait_final(answer.json()["id"])

    assert build.state == Build.State.FAILED
    assert build.step == "push"
    assert build.error_reason == "login_refused"
    assert (
        "unauthorized" in build.error.lower() or "authentication" in build.error.lower()
    )
    assert build.digest == ""


def test_a_broken_dockerfile_fails_at_build_and_keeps_the_log(
    ready_host, as_developer, devstack, busybox
):
    broken = archive(
        {
            "Dockerfile": b'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/nope"]\n',
            "busybox": busybox,
        }
    )

    answer = post_build(
        as_developer, broken, tag=unique_tag(devstack), build_host_id=ready_host.pk
    )
    build = wait_final(answer.json()["id"])

    assert build.state == Build.State.FAILED
    assert build.step == "build"
    assert "/nope" in build.error
    log = buildlogs.path_of(build.pk).read_text()
    assert "COPY busybox" in log and "FAILED at build" in log
    ready_host.refresh_from_db()
    assert ready_host.state == BuildHost.State.READY


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([plain("../escape")], "outside the context"),
        ([plain("/etc/cron.d/evil")], "outside the context"),
        ([symlink("link", "/etc/passwd")], "outside the context"),
        ([symlink("up", "../../etc")], "outside the context"),
    ],
    ids=["dotdot", "absolute", "absolute-link", "link-out"],
)
def test_a_hostile_archive_is_refused_and_nothing_is_built(
    ready_host, as_developer, devstack, extra, message
):
    hostile = archive({"Dockerfile": b"FROM scratch\n"}, extra=extra)
    before = set(contexts.contexts_dir().iterdir())

    answer = post_build(
        as_developer, hostile, tag=unique_tag(devstack), build_host_id=ready_host.pk
    )

    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_build"
    assert message in answer.json()["detail"]
    assert Build.objects.count() == 0
    assert set(contexts.contexts_dir().iterdir()) == before


def test_another_developer_cannot_read_a_build_or_its_log(
    ready_host, as_developer, devstack, busybox, other_developer
):
    answer = post_build(
        as_developer,
        hello_context(busybox),
        tag=unique_tag(devstack),
        build_host_id=ready_host.pk,
        push="false",
    )
    build_id = answer.json()["id"]
    stranger = world.api_client(other_developer)

    assert stranger.get(f"/api/v1/builds/{build_id}").status_code == 404
    assert stranger.get(f"/api/v1/builds/{build_id}/log").status_code == 404
    assert stranger.post(f"/api/v1/builds/{build_id}/cancel").status_code == 404
    assert stranger.get("/api/v1/builds").json() == []
    # Nor build on someone else's host.
    refused = post_build(
        stranger,
        hello_context(busybox),
        tag=unique_tag(devstack),
        build_host_id=ready_host.pk,
    )
    assert refused.status_code == 400
    assert "no build host" in refused.json()["detail"]
    wait_final(build_id)


def test_cancel_stops_a_running_build_and_the_host_stays_usable(
    ready_host, as_developer, devstack, busybox
):
    answer = post_build(
        as_developer,
        slow_context(busybox),
        tag=unique_tag(devstack),
        build_host_id=ready_host.pk,
        push="false",
    )
    build_id = answer.json()["id"]
    deadline = time.monotonic() + 120
    while b"sleeping" not in buildlogs.read(build_id, 0)[0]:
        assert time.monotonic() < deadline, "the slow step never started"
        time.sleep(0.2)

    cancelled = as_developer.post(f"/api/v1/builds/{build_id}/cancel")
    build = wait_final(build_id, timeout=60)

    assert cancelled.status_code == 202
    assert build.state == Build.State.CANCELLED
    trail = AuditEvent.objects.filter(object_id=build_id)
    assert {"build.cancel_requested", "build.cancelled"} <= set(
        trail.values_list("action", flat=True)
    )
    ready_host.refresh_from_db()
    assert ready_host.state == BuildHost.State.READY
    # Usable: the next build on it succeeds.
    again = post_build(
        as_developer,
        hello_context(busybox),
        tag=unique_tag(devstack),
        build_host_id=ready_host.pk,
        push="false",
    )
    assert wait_final(again.json()["id"]).state == Build.State.SUCCEEDED
