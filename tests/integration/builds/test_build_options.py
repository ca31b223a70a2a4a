"""`docker build`'s options through the API, on real build hosts: the stage to
stop at, labels, no cache, and cache images pulled from the registry onto a
new ephemeral host (issue 13)."""

import itertools
import json

import pytest
from django.test import Client

from hosts.buildhosts.provisioning import host_connection
from hosts.builds import logs as buildlogs
from hosts.engine import open_client
from hosts.models import Build, BuildHost
from tests.support.builds import post_build, unique_tag, wait_final
from tests.support.contexts import archive
from tests.support.hostcheck import wait_settled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

STAGE_ONE = "made in stage one"
STAGE_TWO = "made in stage two"


def runs(log) -> list[str]:
    """The RUN steps the builder ran, rather than took from the cache: the
    classic builder prints "---> Running in <container>" under each."""
    lines = log.splitlines()
    return [
        step.split(" : ", 1)[1]
        for step, after in itertools.pairwise(lines)
        if step.startswith("Step ") and " : RUN " in step and "Running in" in after
    ]


@pytest.fixture
def as_developer(developer_token):
    return Client(HTTP_AUTHORIZATION=f"Bearer {developer_token}")


def two_stages(busybox) -> bytes:
    dockerfile = (
        "FROM scratch AS tools\n"
        "COPY busybox /bin/busybox\n"
        f'RUN ["/bin/busybox", "sh", "-c", "echo {STAGE_ONE} > /one"]\n'
        "FROM tools AS final\n"
        f'RUN ["/bin/busybox", "sh", "-c", "echo {STAGE_TWO} > /two"]\n'
        'CMD ["/bin/busybox", "cat", "/one"]\n'
    ).encode()
    return archive({"Dockerfile": dockerfile, "busybox": busybox}, gzipped=True)


def built(client, context, **fields) -> tuple[Build, str]:
    """The build, succeeded, and its whole log."""
    answer = post_build(client, context, **fields)
    assert answer.status_code == 202, answer.content
    build = wait_final(answer.json()["id"])
    assert build.state == Build.State.SUCCEEDED, build.error
    return build, buildlogs.path_of(build.pk).read_text()


def test_a_stage_labels_and_no_cache_reach_docker_build(
    ready_host, as_developer, devstack, busybox
):
    context = two_stages(busybox)
    tag = unique_tag(devstack, "stage")
    labels = json.dumps({"org.example.team": "web"})

    first, log = built(
        as_developer,
        context,
        tag=tag,
        build_host_id=ready_host.pk,
        push="false",
        target="tools",
        labels=labels,
    )
    assert len(runs(log)) == 1 and STAGE_ONE in runs(log)[0]
    assert "echo made in stage two" not in log  # stopped at the stage asked for
    with open_client(host_connection(ready_host)) as client:
        image = client.api.inspect_image(tag)
    assert image["Config"]["Labels"]["org.example.team"] == "web"
    shown = as_developer.get(f"/api/v1/builds/{first.pk}").json()
    assert shown["target"] == "tools"
    assert shown["labels"] == {"org.example.team": "web"}

    _, again = built(
        as_developer, context, tag=tag, build_host_id=ready_host.pk, push="false"
    )
    assert "Using cache" in again
    # Stage one's RUN comes from the cache; stage two's is new.
    assert len(runs(again)) == 1 and STAGE_TWO in runs(again)[0]

    _, uncached = built(
        as_developer,
        context,
        tag=tag,
        build_host_id=ready_host.pk,
        push="false",
        no_cache="true",
    )
    assert "Using cache" not in uncached
    assert len(runs(uncached)) == 2


def test_a_new_ephemeral_host_reuses_the_layers_of_a_pushed_cache_image(
    celery_worker, endpoint, registry, as_developer, devstack, busybox, leftovers
):
    context = two_stages(busybox)
    tag = unique_tag(devstack, "cached")
    first, log = built(as_developer, context, tag=tag, endpoint_id=endpoint.pk)
    assert len(runs(log)) == 2  # a new host: nothing to reuse
    wait_settled(BuildHost.objects.get(pk=first.build_host_id))

    second, log = built(
        as_developer,
        context,
        tag=unique_tag(devstack, "cached"),
        endpoint_id=endpoint.pk,
        cache_from=tag,
    )

    assert second.build_host_id != first.build_host_id
    assert f"pulling the cache image {tag}" in log
    assert "is not used as a cache" not in log
    # Both RUN steps come from the pulled image's layers, not run again.
    assert log.count("Using cache") >= 3
    assert runs(log) == []
    host = wait_settled(BuildHost.objects.get(pk=second.build_host_id))
    assert host.state == BuildHost.State.REMOVED


def test_a_cache_image_that_cannot_be_pulled_is_a_note_not_a_failure(
    ready_host, as_developer, devstack, busybox
):
    missing = unique_tag(devstack, "no-such-cache")
    build, log = built(
        as_developer,
        two_stages(busybox),
        tag=unique_tag(devstack, "stage"),
        build_host_id=ready_host.pk,
        push="false",
        cache_from=missing,
    )
    assert f"note: {missing} is not used as a cache" in log
    assert build.cache_from == [missing]
