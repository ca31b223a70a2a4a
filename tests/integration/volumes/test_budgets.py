"""Budgets against the devstack engine: volumes with data in them, made with
docker-py and labelled as dchweb labels its own, read by a real refresh and
measured by the engine's `system df`. What a user keeps counts (cache
volumes, what removed hosts left), a live host's disk does not; 80 % warns on
the pages and tells the owner once per crossing; at the budget, keeping more
is refused, by the API and by the forms, with words that say what to remove."""

import contextlib
import uuid
from datetime import timedelta

import docker.errors
import pytest
from django.utils import timezone

from hosts.core import installation
from hosts.models import AuditEvent, BuildHost, Notification, Volume
from hosts.volumes import budgets, ledger
from hosts.volumes import tasks as volume_tasks
from tests.integration.ops.test_metrics import scrape, value
from tests.support import world
from tests.support.builds import post_build, unique_tag
from tests.support.contexts import hello_context

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MB = 1000**2
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def made(engine):
    names = []
    yield names
    for name in names:
        with contextlib.suppress(docker.errors.NotFound):
            engine.volumes.get(name).remove(force=True)


@pytest.fixture
def volume_with(engine, build_host_image, devstack, made):
    """A volume labelled as dchweb's, with `megabytes` of data written in it."""
    tag = uuid.uuid4().hex[:8]

    def make(owner, role, megabytes, host=None):
        labels = {
            ledger.MANAGED_LABEL: "true",
            "io.dchweb.installation": installation.installation_id(),
            "io.dchweb.owner": owner,
            "io.dchweb.role": role,
        }
        if host is not None:
            labels["io.dchweb.build-host"] = str(host.pk)
        name = f"budget-{owner}-{role}-{tag}-{len(made)}"
        engine.volumes.create(name, labels=labels)
        made.append(name)
        engine.containers.run(
            build_host_image,
            entrypoint=[
                "sh",
                "-c",
                f"dd if=/dev/zero of=/v/data bs=1000000 count={megabytes}",
            ],
            volumes={name: {"bind": "/v", "mode": "rw"}},
            network=devstack["network"],
            remove=True,
        )
        return name

    return make


@pytest.fixture
def live_host(endpoint, developer):
    """A build host the database says is running (no container: nothing here
    provisions it); the ledger knows its volumes by their label."""
    return BuildHost.objects.create(
        owner=developer,
        endpoint=endpoint,
        name="live",
        image="x",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timedelta(hours=1),
    )


@pytest.fixture
def kept(endpoint, developer, other_developer, live_host, volume_with, leftovers):
    """alice: a cache volume, what a removed host left, her live host's disk;
    bob: what his removed host left. Refreshed and measured."""
    names = {
        "cache": volume_with("alice", "cache", 3),
        "left": volume_with("alice", "docker-data", 2),
        "live": volume_with("alice", "docker-data", 4, host=live_host),
        "bob": volume_with("bob", "docker-data", 1),
    }
    assert ledger.refresh(endpoint).error == ""
    assert ledger.measure_sizes(endpoint) >= len(names)
    return names


def size_of(endpoint, name):
    return Volume.objects.get(endpoint=endpoint, name=name).size_bytes


def set_budget(settings, used, share):
    """A budget that puts `used` bytes at `share` of it (GB as a fraction)."""
    settings.DCHWEB_USER_BUDGET_GB = used / share / budgets.GB


def told(user):
    return Notification.objects.filter(
        event=Notification.Event.VOLUMES_OVER_BUDGET, owner=user
    )


def test_usage_counts_kept_and_cache_volumes_not_a_live_hosts_disk(
    kept, endpoint, engine, live_host, settings
):
    settings.DCHWEB_USER_BUDGET_GB = 8
    cache, left = size_of(endpoint, kept["cache"]), size_of(endpoint, kept["left"])
    # The engine measured what was written (and a little more: the file system's).
    measured = {v["Name"]: v["UsageData"]["Size"] for v in engine.df()["Volumes"]}
    assert measured[kept["cache"]] == cache >= 3 * MB
    assert measured[kept["left"]] == left >= 2 * MB

    assert budgets.usage("alice") == (cache + left, 8 * budgets.GB)
    assert budgets.usage("bob") == (size_of(endpoint, kept["bob"]), 8 * budgets.GB)

    # Removed, the host's disk is left behind: kept, and counted.
    live_host.state = BuildHost.State.REMOVED
    live_host.save(update_fields=["state"])
    assert budgets.usage("alice")[0] == cache + left + size_of(endpoint, kept["live"])


def test_the_owner_is_told_once_per_crossing_of_80_percent(
    kept, developer, other_developer, settings, celery_worker
):
    # The worker takes the notifications' dispatch (tests' own queue).
    used, _ = budgets.usage("alice")
    bob_used, _ = budgets.usage("bob")
    assert bob_used < used
    set_budget(settings, used, 0.85)  # alice at 85 %, bob well under

    # The periodic pass: a rescan, the sizes, then the owners past 80 %.
    volume_tasks.refresh_volumes()
    assert told(developer).count() == 1
    assert budgets.warn_owners() == 0  # the next pass: still over, not told again
    (notification,) = told(developer)
    assert notification.object["used_bytes"] == used
    assert notification.object["percent"] == 85
    assert notification.object["largest"][0]["name"] == kept["cache"]
    assert "85 %" in notification.object["summary"]
    assert not told(other_developer).exists()

    set_budget(settings, used, 0.5)  # back under 80 %
    assert budgets.warn_owners() == 0
    assert AuditEvent.objects.filter(action=budgets.BACK_UNDER).count() == 1
    set_budget(settings, used, 0.9)  # over again: told again
    assert budgets.warn_owners() == 1
    assert told(developer).count() == 2

    settings.DCHWEB_USER_BUDGET_GB = 0  # no budget: nobody is warned
    assert budgets.warn_owners() == 0


def test_the_pages_warn_from_80_percent_and_the_warning_polls(
    kept, developer, admin, client, settings
):
    used, _ = budgets.usage("alice")
    client.force_login(developer)
    set_budget(settings, used, 0.5)
    assert "budget-warning" not in client.get("/").content.decode()

    set_budget(settings, used, 0.85)
    home = client.get("/").content.decode()
    assert "budget-warning" in home and "85 % of your budget" in home
    assert kept["cache"] in home  # the largest: what to remove first
    assert 'hx-trigger="every 10s"' in home
    # The poll's answer: the warning alone, for this user.
    fragment = client.get("/", HTTP_HX_TARGET="volume-budget", **HTMX).content.decode()
    assert fragment.lstrip().startswith('<div id="volume-budget"')
    assert "85 %" in fragment and "<h1>" not in fragment

    # An admin keeps nothing: no warning on /volumes/ for them.
    client.force_login(admin)
    assert "budget-warning" not in client.get("/volumes/").content.decode()
    Volume.objects.filter(owner_name="alice").update(owner_name="root")
    volumes_page = client.get("/volumes/").content.decode()
    assert "budget-warning" in volumes_page


def test_keep_past_the_budget_is_refused_by_the_api_and_the_forms(
    kept, developer, endpoint, registry, busybox, devstack, data_dir, client, settings
):
    used, _ = budgets.usage("alice")
    set_budget(settings, used, 1.25)  # over
    api = world.api_client(developer)

    for policy in ("keep", "keep_days:3"):
        refused = api.post(
            "/api/v1/build-hosts",
            {"endpoint_id": endpoint.pk, "volume_policy": policy},
            content_type="application/json",
        )
        assert refused.status_code == 409
        body = refused.json()
        assert body["error"] == "over_budget"
        assert body["detail"].startswith(
            f"You keep {budgets.size_words(used)} of volumes, over your budget of "
            f"{budgets.size_words(budgets.budget_bytes())}: remove some"
        )
        assert kept["cache"] in body["detail"]
    mine = api.get("/api/v1/volumes/budget").json()
    assert (mine["used_bytes"], mine["percent"]) == (used, 125)
    assert mine["warned"] and mine["over"]
    assert mine["largest"][0]["name"] == kept["cache"]
    build = post_build(
        api,
        hello_context(busybox),
        tag=unique_tag(devstack),
        endpoint_id=endpoint.pk,
        push="false",
        volume_policy="keep",
    )
    assert build.status_code == 409 and build.json()["error"] == "over_budget"

    client.force_login(developer)
    form = client.post(
        "/build-hosts/",
        {
            "endpoint": endpoint.pk,
            "disk_gb": "20",
            "ttl_minutes": "60",
            "volume_policy": "keep",
            "keep_days": "",
        },
        **HTMX,
    )
    assert form.status_code == 409
    assert "over your budget of" in form.content.decode()
    assert not BuildHost.objects.exclude(name="live").exists()


def test_no_budget_or_room_left_is_no_refusal(kept, developer, settings):
    used, _ = budgets.usage("alice")
    settings.DCHWEB_USER_BUDGET_GB = 0
    budgets.check_keep(developer, extra_bytes=10**15)

    set_budget(settings, used, 0.9)  # warned, not yet at the budget
    budgets.check_keep_policy(developer, "keep")
    budgets.check_keep_policy(developer, "delete")
    with pytest.raises(budgets.OverBudget):  # what would take her past it
        budgets.check_keep(developer, extra_bytes=used)
    set_budget(settings, used, 1)  # exactly at the budget: refused
    with pytest.raises(budgets.OverBudget):
        budgets.check_keep_policy(developer, "keep")
    budgets.check_keep_policy(developer, "delete")


def test_metrics_show_kept_bytes_against_the_budget(kept, developer, settings):
    used, _ = budgets.usage("alice")
    set_budget(settings, used, 0.9)  # warned, under the budget
    samples = scrape(world.api_token(developer))

    assert value(samples, "dchweb_kept_volume_bytes", owner="alice") == used
    assert value(samples, "dchweb_user_budget_bytes") == budgets.budget_bytes()
    assert value(samples, "dchweb_users_over_budget", threshold="warning") == 1
    assert value(samples, "dchweb_users_over_budget", threshold="budget") == 0
