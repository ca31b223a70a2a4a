"""/metrics scraped after real work: every series the operators need is
there, with the values the work produced."""

import re

import pytest
from django.test import Client

from hosts.buildhosts import commands as buildhosts
from hosts.models import BuildHost
from hosts.volumes import ledger
from tests.support import world
from tests.support.builds import post_build, unique_tag, wait_final
from tests.support.contexts import hello_context
from tests.support.hostcheck import new_host, wait_settled

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def scrape(token):
    text = Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}").content
    samples = {}
    for line in text.decode().splitlines():
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not Prometheus text: {line!r}"
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
        samples[(match["name"], tuple(sorted(labels.items())))] = float(match["value"])
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def test_metrics_carry_hosts_builds_failures_and_orphaned_bytes(
    celery_worker, endpoint, registry, developer, devstack, busybox, leftovers
):
    token = world.api_token(developer)
    ready = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    missing = f"{devstack['registry']}/default-project/no-such-image:1"
    failed = wait_settled(new_host(developer, endpoint, image=missing))
    built = post_build(
        Client(HTTP_AUTHORIZATION=f"Bearer {token}"),
        hello_context(busybox),
        tag=unique_tag(devstack),
        build_host_id=ready.pk,
        push="false",
    )
    assert wait_final(built.json()["id"]).state == "succeeded"
    kept = wait_settled(new_host(developer, endpoint, registry_ids=[registry.pk]))
    buildhosts.request_removal(developer, kept, "keep", source="api")
    wait_settled(kept)
    ledger.refresh(endpoint)
    ledger.measure_sizes(endpoint)

    samples = scrape(token)

    assert ready.state == BuildHost.State.READY and failed.state == "failed"
    assert value(samples, "dchweb_build_hosts", state="ready") == 1
    assert value(samples, "dchweb_build_hosts", state="failed") == 1
    assert value(samples, "dchweb_build_hosts", state="removed") == 1
    assert value(samples, "dchweb_provision_duration_seconds_count") == 2
    assert value(samples, "dchweb_provision_duration_seconds_sum") > 0
    assert value(samples, "dchweb_builds", state="succeeded") == 1
    assert value(samples, "dchweb_build_duration_seconds_count", state="succeeded") == 1
    assert (
        value(
            samples,
            "dchweb_step_failures_total",
            step="pull_image",
            reason="image_not_found",
        )
        == 1
    )
    orphaned = value(samples, "dchweb_orphaned_volume_bytes", endpoint=endpoint.name)
    assert orphaned is not None and orphaned >= 0
