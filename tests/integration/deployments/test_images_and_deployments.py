"""The seed's preferred method (a build-host image with the registry CA
embedded) and its workflow step 4 (run the pushed image on an endpoint)."""

import uuid

import pytest

from hosts.models import BuildHost, BuildHostImage, Deployment
from tests.support import world
from tests.support.builds import post_build, unique_tag, wait_final
from tests.support.contexts import hello_context
from tests.support.hostcheck import engine_objects, new_host, wait_settled
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_ca_image_serves_build_hosts_without_copying_the_ca(
    celery_worker, endpoint, registry, admin, developer, engine, devstack, leftovers
):
    as_admin = world.api_client(admin)
    answer = as_admin.post(
        "/api/v1/build-host-images",
        data={
            "endpoint_id": endpoint.pk,
            "registry_ids": [registry.pk],
            "tag": uuid.uuid4().hex[:8],
        },
        content_type="application/json",
    )
    assert answer.status_code == 202, answer.content
    image = BuildHostImage.objects.get(pk=answer.json()["id"])
    build = wait_final(answer.json()["build_id"])
    assert build.state == "succeeded", build.error
    image.refresh_from_db()
    assert image.state == "ready" and image.digest == build.digest

    made_default = as_admin.post(
        f"/api/v1/build-host-images/{image.pk}/make-default",
        data={"endpoint_id": endpoint.pk},
        content_type="application/json",
    )
    assert made_default.status_code == 200, made_default.content
    endpoint.refresh_from_db()
    assert endpoint.default_image == image.ref

    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))

    assert host.state == BuildHost.State.READY, host.error
    assert host.image == image.ref
    inject = host.steps.get(name="inject_certs")
    assert "copied: none" in inject.detail
    assert f"embedded in the image: {registry.address}" in inject.detail
    assert host.steps.get(name="verify_registry").status == "done"
    container = engine_objects(engine, host)[0][0]
    found = container.exec_run(
        ["cat", f"/etc/docker/certs.d/{registry.address}/ca.crt"]
    )
    assert found.output == devstack["registry_ca"]


def test_a_pushed_image_is_deployed_by_digest_shown_and_removed(
    celery_worker, endpoint, registry, developer, engine, devstack, busybox, leftovers
):
    host = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    as_developer = world.api_client(developer)
    tag = unique_tag(devstack, "deployed")
    built = post_build(
        as_developer,
        hello_context(busybox, "deployed by dchweb"),
        tag=tag,
        build_host_id=host.pk,
    )
    build = wait_final(built.json()["id"])
    assert build.state == "succeeded", build.error
    by_digest = f"{tag.rsplit(':', 1)[0]}@{build.digest}"

    answer = as_developer.post(
        "/api/v1/deployments",
        data={"endpoint_id": endpoint.pk, "image": by_digest},
        content_type="application/json",
    )
    assert answer.status_code == 202, answer.content
    deployment_id = answer.json()["id"]

    def exited():
        shown = as_developer.get(f"/api/v1/deployments/{deployment_id}").json()
        return shown if shown["state"] in ("exited", "failed") else None

    shown = wait_until(
        exited, "the deployment to run and exit", timeout=120, interval=0.5
    )
    assert shown["state"] == "exited", shown["error"]
    assert shown["exit_code"] == 0
    assert "deployed by dchweb" in shown["output"]
    deployment = Deployment.objects.get(pk=deployment_id)
    assert (
        engine.containers.get(deployment.container_name).labels["io.dchweb.deployment"]
        == deployment_id
    )

    removed = as_developer.delete(f"/api/v1/deployments/{deployment_id}")
    assert removed.status_code == 202
    wait_until(
        lambda: Deployment.objects.get(pk=deployment_id).state == "removed",
        "the removal",
        timeout=120,
        interval=0.5,
    )
    label = f"io.dchweb.deployment={deployment_id}"
    assert engine.containers.list(all=True, filters={"label": label}) == []


def test_a_deployment_of_a_missing_image_fails_and_says_why(
    celery_worker, endpoint, registry, developer, devstack
):
    as_developer = world.api_client(developer)
    answer = as_developer.post(
        "/api/v1/deployments",
        data={"endpoint_id": endpoint.pk, "image": unique_tag(devstack, "missing")},
        content_type="application/json",
    )
    deployment_id = answer.json()["id"]

    shown = wait_until(
        lambda: (
            (d := as_developer.get(f"/api/v1/deployments/{deployment_id}").json())
            and d["state"] == "failed"
            and d
        ),
        "the deployment to fail",
        timeout=120,
        interval=0.5,
    )

    assert shown["error_reason"] == "image_not_found"
