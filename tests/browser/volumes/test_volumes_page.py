"""The volume audit in Chromium: volumes made on the devstack engine appear
after a Refresh, an admin filters to orphaned ones, makes a plan, executes
it and sees each volume removed, all without a reload; the engine then lacks
exactly those volumes."""

import contextlib
import json
import uuid

import docker.errors
import pytest

from hosts.core import installation
from hosts.models import CleanupPlan, Volume
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def made(engine):
    """Containers and volumes the test makes on the engine; gone afterwards."""
    things = {"containers": [], "volumes": []}
    yield things
    for container in things["containers"]:
        with contextlib.suppress(docker.errors.NotFound):
            container.remove(force=True)
    for name in things["volumes"]:
        with contextlib.suppress(docker.errors.NotFound):
            engine.volumes.get(name).remove(force=True)


def ledger_rows_are(names):
    """JS: the table shows exactly these volume names."""
    return (
        "JSON.stringify(Array.from(document.querySelectorAll("
        "'#volume-ledger tr[data-volume]'), (row) => row.dataset.volume).sort())"
        f" == {json.dumps(json.dumps(sorted(names), separators=(',', ':')))}"
    )


def test_refresh_filter_plan_and_execute_without_a_reload(
    live_server,
    page,
    celery_worker,
    admin,
    endpoint,
    engine,
    build_host_image,
    made,
):
    tag = uuid.uuid4().hex[:8]
    prefix = f"dchweb-ui-{tag}"
    owner = f"owner-{tag}"
    labels = {
        "io.dchweb.managed": "true",
        "io.dchweb.installation": installation.installation_id(),
        "io.dchweb.owner": owner,
        "io.dchweb.role": "docker-data",
    }

    def volume(name, **kwargs):
        made["volumes"].append(name)
        return engine.volumes.create(name, **kwargs).name

    orphaned = [volume(f"{prefix}-orphan-{n}", labels=labels) for n in range(2)]
    in_use = volume(f"{prefix}-in-use", labels=labels)
    dangling = volume(f"{prefix}-dangling")
    made["containers"].append(
        engine.containers.create(
            build_host_image,
            entrypoint=["sleep", "600"],
            name=f"{prefix}-user",
            volumes={in_use: {"bind": "/data", "mode": "rw"}},
        )
    )

    sign_in(page, live_server, "root", "root-password-1")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("nav >> text=Volumes")
    page.wait_for_url(f"{live_server.url}/volumes/")
    # The shared engine may hold more than a page of others' volumes: this
    # test's owner only (its dangling volume has no owner: checked below).
    page.fill("#volume-filters input[name=owner]", owner)
    page.click("#volume-filters button:has-text('Filter')")
    page.wait_for_url(f"{live_server.url}/volumes/?*owner={owner}*")
    page.evaluate("window.dchwebMarker = 'still here'")
    assert page.locator(f"tr[data-volume^='{prefix}']").count() == 0

    # Refresh: the rescan runs in the worker; the table reloads when it is done.
    page.click("#volume-refresh button:has-text('Refresh')")
    page.wait_for_selector(
        "#volume-refresh[data-state=done], #volume-refresh[data-state=unsized]",
        timeout=90_000,
    )
    page.wait_for_function(until(ledger_rows_are([*orphaned, in_use])))
    assert page.get_attribute("#volume-refresh", "hx-trigger") is None  # no polling
    row = f"#volume-ledger tr[data-volume='{in_use}']"
    assert page.get_attribute(row, "data-status") == "in_use"
    assert f"attached to {prefix}-user" in page.inner_text(row)
    row = f"#volume-ledger tr[data-volume='{orphaned[0]}']"
    assert page.get_attribute(row, "data-status") == "orphaned"
    assert f"owner {owner}" in page.inner_text(row)
    assert Volume.objects.get(name=dangling).status == Volume.Status.DANGLING

    # Filter to this test's orphaned volumes.
    page.select_option("#volume-filters select[name=status]", "orphaned")
    page.wait_for_function(until(ledger_rows_are(orphaned)))
    assert "status=orphaned" in page.url and f"owner={owner}" in page.url

    # A dry run from the filters.
    page.click("#volume-filters button:has-text('Plan by rule')")
    page.wait_for_selector("#cleanup-plan[data-state=draft]")
    assert page.inner_text("#cleanup-plan .plan-count") == "2"
    planned = page.eval_on_selector_all(
        "#cleanup-plan tr[data-volume]", "(rows) => rows.map((r) => r.dataset.volume)"
    )
    assert sorted(planned) == sorted(orphaned)
    plan = CleanupPlan.objects.get()
    assert plan.state == CleanupPlan.State.DRAFT

    # Execute it; the results come in without a reload.
    page.click("#cleanup-plan button:has-text('Execute this plan')")
    page.wait_for_selector("#cleanup-plan[data-state=done]", timeout=90_000)
    results = page.eval_on_selector_all(
        "#cleanup-plan tr[data-volume]",
        "(rows) => rows.map((r) => [r.dataset.volume, r.dataset.result])",
    )
    assert sorted(results) == sorted([name, "removed"] for name in orphaned)
    assert "Done: reclaimed" in page.inner_text("#cleanup-plan .plan-results")
    assert "Removed 2" in page.inner_text("#cleanup-plan .plan-results")
    assert page.get_attribute("#cleanup-plan", "hx-trigger") is None
    # The table reloaded: the removed volumes left it.
    page.wait_for_function(until(ledger_rows_are([])))
    assert page.evaluate("window.dchwebMarker") == "still here"
    plan.refresh_from_db()
    assert plan.state == CleanupPlan.State.DONE and plan.approved_by == admin

    # The engine lost exactly those volumes.
    left = {v.name for v in engine.volumes.list() if v.name.startswith(prefix)}
    assert left == {in_use, dangling}
