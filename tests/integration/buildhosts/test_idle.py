"""Idle stop and resume against the devstack engine and a real build host.

The pass is given a `now` an hour ahead instead of waiting an hour: the host's
engine is still asked about the real past only. Activity is made the way a
developer makes it, with the owner's TLS bundle: a container running inside
the host keeps it up; once it is gone, the host is stopped (container
stopped, volumes kept, owner told). Resume goes through the API, and the
owner's bundle opens the host again wherever the engine publishes it now."""

import io
from datetime import timedelta

import docker
import pytest
from django.test import Client
from django.utils import timezone

from hosts.buildhosts import commands as buildhosts
from hosts.buildhosts import idle, provisioning, reconciler
from hosts.buildhosts import tasks as buildhost_tasks
from hosts.models import AuditEvent, BuildHost, Notification
from tests.support import world
from tests.support.contexts import archive
from tests.support.hostcheck import assert_nothing_left, bundle_dir, engine_objects
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

AN_HOUR_ON = timedelta(minutes=61)
SLEEPER = "dchweb-test/sleeper:1"


def owners_engine(host, directory):
    """The host's engine as its owner reaches it: the bundle, the host's
    address as dchweb gives it now."""
    certs = bundle_dir(host, directory)
    tls = docker.tls.TLSConfig(
        client_cert=(str(certs / "cert.pem"), str(certs / "key.pem")),
        ca_cert=str(certs / "ca.pem"),
        verify=True,
    )
    url = host.docker_host.replace("tcp://", "https://")
    client = docker.DockerClient(base_url=url, tls=tls, timeout=60, version="1.41")
    client.api.trust_env = False
    return client


def run_sleeper(client, busybox):
    """A container running inside the host: someone's work."""
    context = archive(
        {
            "Dockerfile": b"FROM scratch\nCOPY busybox /bin/busybox\n"
            b'CMD ["/bin/busybox", "sleep", "300"]\n',
            "busybox": busybox,
        }
    )
    client.images.build(fileobj=io.BytesIO(context), custom_context=True, tag=SLEEPER)
    return client.containers.run(SLEEPER, detach=True)


def api(method, path, token):
    return Client().generic(method, path, HTTP_AUTHORIZATION=f"Bearer {token}")


def resume_path(host):
    return f"/api/v1/build-hosts/{host.pk}/resume"


def fresh(host):
    return BuildHost.objects.get(pk=host.pk)


def test_an_idle_host_is_stopped_and_resumed_and_its_bundle_still_opens_it(
    ready_host, developer, other_developer, engine, endpoint, busybox, tmp_path
):
    host = ready_host
    client = owners_engine(host, tmp_path / "before")
    sleeper = run_sleeper(client, busybox)

    # Something runs inside: an hour on, the host is still up.
    busy = idle.stop_idle_hosts(now=timezone.now() + AN_HOUR_ON)
    assert host.name in busy.get(idle.ACTIVE, []), busy
    assert fresh(host).state == BuildHost.State.READY
    assert fresh(host).last_activity_at > host.ready_at

    # It ends; an hour after the last activity seen, the pass stops the host.
    sleeper.remove(force=True)
    later = fresh(host).last_activity_at + AN_HOUR_ON
    done = idle.stop_idle_hosts(now=later)

    assert done.get(idle.STOPPED) == [host.name], done
    stopped = fresh(host)
    assert stopped.state == BuildHost.State.STOPPED
    assert stopped.stopped_at is not None
    containers, volumes = engine_objects(engine, host)
    assert [c.status for c in containers] == ["exited"]
    assert sorted(v.name for v in volumes) == sorted(host.volume_names)
    step = stopped.steps.get(name="stop")
    assert step.status == "done" and "volumes kept" in step.detail
    assert AuditEvent.objects.filter(
        action="build_host.stopped", object_id=str(host.pk)
    ).exists()
    told = Notification.objects.get(event="build_host.stopped")
    assert told.owner == developer
    assert told.object["id"] == str(host.pk)
    assert "60 minutes" in told.object["summary"]

    # The reconciler, well past its grace, leaves the stopped container be.
    reconciler.reconcile_endpoint(endpoint.pk, now=timezone.now() + AN_HOUR_ON)
    assert fresh(host).state == BuildHost.State.STOPPED
    assert [c.status for c in engine_objects(engine, host)[0]] == ["exited"]

    # Another developer cannot resume it; its owner can.
    bobs = world.api_token(other_developer)
    assert api("POST", resume_path(host), bobs).status_code == 404
    token = world.api_token(developer)
    answer = api("POST", resume_path(host), token)
    assert answer.status_code == 202, answer.content
    assert answer.json()["state"] == "stopped"
    assert answer.json()["step"] == "resume_start"
    wait_until(
        lambda: fresh(host).state == BuildHost.State.READY or fresh(host).error_reason,
        "the host to run again",
        timeout=120,
    )
    resumed = fresh(host)
    assert resumed.state == BuildHost.State.READY, resumed.error
    assert resumed.last_activity_at > stopped.stopped_at
    steps = {step.name: step.status for step in resumed.steps.all()}
    assert steps["resume_start"] == "done"
    assert steps["resume_wait_ready"] == "done"

    # The owner's bundle opens it again, at the port the engine gives now.
    version = owners_engine(resumed, tmp_path / "after").version()
    assert version["ApiVersion"]
    # A running host is not resumed: 409 with words.
    again = api("POST", resume_path(host), token)
    assert again.status_code == 409
    assert again.json()["error"] == "not_stopped"
    assert "running already" in again.json()["detail"]


def test_a_stopped_host_frees_its_owners_place_and_its_time_to_live_still_ends(
    ready_host, developer, engine, settings
):
    host = ready_host
    assert idle.stop_idle_hosts(now=timezone.now() + AN_HOUR_ON).get(idle.STOPPED) == [
        host.name
    ]
    settings.DCHWEB_MAX_BUILD_HOSTS_PER_USER = 1
    # Its place is free: another host may be asked for (not provisioned here).
    other, created = buildhosts.create_build_host(
        developer, {"endpoint_id": host.endpoint_id}, provision=False, source="api"
    )
    assert created
    # ...and taken again by that one: the stopped host cannot resume now.
    with pytest.raises(buildhosts.BuildHostConflict) as refused:
        buildhosts.request_resume(developer, fresh(host), source="api")
    assert refused.value.code == "cap_reached"
    other.delete()

    # Its time to live ends while it is stopped: it is removed.
    expired = fresh(host).expires_at + timedelta(seconds=1)
    assert provisioning.reap_expired(now=expired) == [str(host.pk)]
    buildhost_tasks.remove_build_host.delay(str(host.pk))
    wait_until(
        lambda: fresh(host).state == BuildHost.State.REMOVED, "the removal", timeout=60
    )
    assert_nothing_left(engine, host)


def stop_path(host):
    return f"/api/v1/build-hosts/{host.pk}/stop"


def test_its_owner_stops_a_ready_host_and_its_volumes_stay(
    ready_host, developer, other_developer, engine
):
    host = ready_host
    bobs = world.api_token(other_developer)
    assert api("POST", stop_path(host), bobs).status_code == 404
    token = world.api_token(developer)

    answers = [api("POST", stop_path(host), token) for _ in range(2)]

    assert [answer.status_code for answer in answers] == [202, 202], answers[0].content
    # Stopped in the database first, then on the engine: the step says when.
    wait_until(
        lambda: fresh(host).steps.filter(name="stop", status="done").exists(),
        "the stop",
        timeout=60,
    )
    stopped = fresh(host)
    assert stopped.state == BuildHost.State.STOPPED
    assert stopped.step == "" and not stopped.is_stopping
    containers, volumes = engine_objects(engine, host)
    assert [c.status for c in containers] == ["exited"]
    assert sorted(v.name for v in volumes) == sorted(host.volume_names)
    # Asked twice, stopped once.
    step = stopped.steps.get(name="stop")
    assert step.detail == "stopped by alice; volumes kept"
    told = Notification.objects.get(event="build_host.stopped")
    assert told.object["stopped_by"] == "alice"
    # Stopped already: nothing more to stop, and a stopped host is no 409.
    assert api("POST", stop_path(host), token).status_code == 202
    assert fresh(host).steps.filter(name="stop").count() == 1


def test_a_host_that_is_not_ready_is_not_stopped(ready_host, developer):
    token = world.api_token(developer)
    BuildHost.objects.filter(pk=ready_host.pk).update(state=BuildHost.State.BUSY)

    answer = api("POST", stop_path(ready_host), token)

    assert answer.status_code == 409
    assert answer.json()["error"] == "not_ready"
    assert "a build runs on the build host" in answer.json()["detail"]
    assert fresh(ready_host).step == ""
    BuildHost.objects.filter(pk=ready_host.pk).update(state=BuildHost.State.READY)
