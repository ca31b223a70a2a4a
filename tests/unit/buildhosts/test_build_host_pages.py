"""Build-host pages: who sees what, the form's errors, fragments and polling.

No engine here: hosts are rows made directly; the create form's engine
listing (for the cap) and the provisioning enqueue are stubbed.
"""

import io
import zipfile
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from hosts.buildhosts import provisioning
from hosts.models import AuditEvent, BuildHost, BuildHostStep, Endpoint, Registry
from tests.support import world

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
ENQUEUE_PROVISION = "hosts.buildhosts.tasks.provision_build_host.delay"
ENQUEUE_REMOVAL = "hosts.buildhosts.tasks.remove_build_host.delay"
LISTING = "hosts.engine.list_managed_containers"
POLL_EVERY_SECOND = 'hx-trigger="every 1s"'
POLL_LIST = 'hx-trigger="every 2s"'


@pytest.fixture
def endpoint():
    return world.unreachable_endpoint(
        default_image="registry.test:5443/default-project/dch-photon:20.10",
        max_build_hosts=2,
    )


@pytest.fixture
def make_host(endpoint):
    def make(owner, name="bh-1", state=BuildHost.State.PROVISIONING, **fields):
        return BuildHost.objects.create(
            owner=owner,
            endpoint=endpoint,
            name=name,
            image="x",
            state=state,
            expires_at=fields.pop("expires_at", timezone.now() + timedelta(hours=8)),
            **fields,
        )

    return make


@pytest.fixture
def stubbed_engine(django_capture_on_commit_callbacks):
    """No engine to list, no queue: the cap counts the database's rows and
    the enqueues are recorded. `committed()` wraps a request so that its
    on-commit callbacks (the enqueue) run as a real commit runs them."""
    with (
        mock.patch(LISTING, side_effect=_unreachable),
        mock.patch(ENQUEUE_PROVISION) as provision,
        mock.patch(ENQUEUE_REMOVAL) as removal,
    ):
        yield {
            "provision": provision,
            "removal": removal,
            "committed": lambda: django_capture_on_commit_callbacks(execute=True),
        }


def _unreachable(connection, installation_id):
    from hosts import engine

    raise engine.EngineUnreachable("no engine in unit tests")


def form_data(to, **overrides):
    data = {
        "endpoint": to.pk,
        "name": "my-host",
        "disk_gb": "20",
        "ttl_minutes": "60",
        "volume_policy": "delete",
        "keep_days": "",
    }
    data.update(overrides)
    return data


# --- Login and who sees what ------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/build-hosts/",
        "/build-hosts/00000000-0000-0000-0000-000000000001/",
        "/build-hosts/00000000-0000-0000-0000-000000000001/tls-bundle",
    ],
)
def test_build_host_pages_send_visitors_to_the_login_page(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_a_visitor_cannot_remove_a_host(client, developer, make_host):
    host = make_host(developer)

    response = client.post(f"/build-hosts/{host.pk}/remove", {"volumes": "delete"})

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    host.refresh_from_db()
    assert host.state == BuildHost.State.PROVISIONING


def test_a_developer_sees_their_own_hosts_only(
    client, developer, other_developer, make_host
):
    mine = make_host(developer, name="mine")
    theirs = make_host(other_developer, name="theirs")
    client.force_login(developer)

    listing = client.get("/build-hosts/").content.decode()
    detail = client.get(f"/build-hosts/{mine.pk}/")

    assert f'href="/build-hosts/{mine.pk}/"' in listing
    assert "theirs" not in listing and str(theirs.pk) not in listing
    assert detail.status_code == 200
    assert "Build host mine" in detail.content.decode()


def test_another_developers_host_is_not_found_on_every_page(
    client, developer, other_developer, make_host, stubbed_engine
):
    theirs = make_host(
        other_developer, state=BuildHost.State.READY, owner_cert_pem="PEM", port=32768
    )
    client.force_login(developer)

    assert client.get(f"/build-hosts/{theirs.pk}/").status_code == 404
    assert client.get(f"/build-hosts/{theirs.pk}/", **HTMX).status_code == 404
    assert client.get(f"/build-hosts/{theirs.pk}/tls-bundle").status_code == 404
    assert client.post(f"/build-hosts/{theirs.pk}/extend").status_code == 404
    with stubbed_engine["committed"]():
        removed = client.post(f"/build-hosts/{theirs.pk}/remove", {"volumes": "delete"})

    assert removed.status_code == 404
    theirs.refresh_from_db()
    assert theirs.state == BuildHost.State.READY
    stubbed_engine["removal"].assert_not_called()


def test_an_unknown_id_is_not_found(client, developer):
    client.force_login(developer)

    response = client.get("/build-hosts/00000000-0000-0000-0000-000000000001/")

    assert response.status_code == 404


def test_an_admin_sees_everyones_hosts_with_their_owners(
    client, admin, developer, other_developer, make_host
):
    alices = make_host(developer, name="alices")
    bobs = make_host(other_developer, name="bobs")
    client.force_login(admin)

    listing = client.get("/build-hosts/").content.decode()

    assert "alices" in listing and "bobs" in listing
    assert "<th>Owner</th>" in listing
    assert client.get(f"/build-hosts/{alices.pk}/").status_code == 200
    assert client.get(f"/build-hosts/{bobs.pk}/").status_code == 200


def test_a_developers_list_has_no_owner_column(client, developer, make_host):
    make_host(developer)
    client.force_login(developer)

    assert "<th>Owner</th>" not in client.get("/build-hosts/").content.decode()


def test_the_navigation_links_to_build_hosts_and_builds(client, developer):
    client.force_login(developer)

    home = client.get("/").content.decode()
    assert 'href="/build-hosts/">Build hosts</a>' in home
    assert 'href="/builds/">Builds</a>' in home


# --- The form -------------------------------------------------------------------


def test_the_form_offers_enabled_endpoints_and_checks_every_registry(
    client, developer, endpoint
):
    Endpoint.objects.create(
        name="switched-off", docker_url="unix:///x.sock", health="disabled"
    )
    first = Registry.objects.create(name="one", address="one.test:5443")
    second = Registry.objects.create(name="two", address="two.test:5443")
    client.force_login(developer)

    page = client.get("/build-hosts/").content.decode()

    assert "New build host" in page
    assert f'<option value="{endpoint.pk}"' in page
    assert "switched-off" not in page
    for registry in (first, second):
        assert f'value="{registry.pk}"' in page
    assert page.count('type="checkbox" name="registries"') == 2
    assert page.count("checked") >= 2
    assert '<option value="keep_days"' in page
    assert 'name="keep_days"' in page


def test_a_created_host_opens_its_page(client, developer, endpoint, stubbed_engine):
    registry = Registry.objects.create(name="one", address="one.test:5443")
    client.force_login(developer)

    with stubbed_engine["committed"]():
        response = client.post(
            "/build-hosts/",
            form_data(endpoint, registries=[registry.pk], volume_policy="keep_days")
            | {"keep_days": "3"},
        )

    host = BuildHost.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/build-hosts/{host.pk}/"
    assert host.owner == developer
    assert host.name == "my-host"
    assert host.policy_label == "keep_days:3"
    assert list(host.registries.all()) == [registry]
    stubbed_engine["provision"].assert_called_once_with(str(host.pk))
    assert AuditEvent.objects.filter(action="build_host.created").exists()


def test_an_htmx_create_answers_with_hx_redirect(
    client, developer, endpoint, stubbed_engine
):
    client.force_login(developer)

    response = client.post("/build-hosts/", form_data(endpoint), **HTMX)

    host = BuildHost.objects.get()
    assert response["HX-Redirect"] == f"/build-hosts/{host.pk}/"
    # No registry ticked: the host trusts none (not "all").
    assert host.registries.count() == 0


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"name": "no spaces allowed"}, "name", "letters, digits"),
        ({"disk_gb": "0"}, "disk_gb", "between 1 GB and"),
        ({"ttl_minutes": "1"}, "ttl_minutes", "between 5 minutes and"),
        ({"ttl_minutes": "soon"}, "ttl_minutes", "whole number"),
        ({"volume_policy": "keep_days"}, "keep_days", "how many days"),
        ({"volume_policy": "keep_days", "keep_days": "0"}, "keep_days", "1 to 365"),
        ({"volume_policy": "shred"}, "volume_policy", "valid choice"),
        ({"endpoint": "999"}, "endpoint", "valid choice"),
        ({"registries": ["999"]}, "registries", "valid choice"),
    ],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_bad_input_is_a_form_error_not_a_500(
    client, developer, endpoint, stubbed_engine, overrides, field, words, htmx
):
    client.force_login(developer)

    with stubbed_engine["committed"]():
        response = client.post(
            "/build-hosts/", form_data(endpoint, **overrides), **(HTMX if htmx else {})
        )

    body = response.content.decode()
    assert response.status_code == 400
    assert words in body
    assert 'class="error-text" role="alert"' in body
    assert ("<html" in body) is not htmx
    assert body.lstrip().startswith("<!doctype") or body.lstrip().startswith(
        '<div id="build-host-create"'
    )
    assert not BuildHost.objects.exists()
    stubbed_engine["provision"].assert_not_called()


def test_a_disabled_endpoint_is_refused_in_the_form(
    client, developer, endpoint, stubbed_engine
):
    client.force_login(developer)
    page = client.get("/build-hosts/")  # the form was rendered while it was on
    assert page.status_code == 200
    endpoint.health = Endpoint.Health.DISABLED
    endpoint.save()

    response = client.post("/build-hosts/", form_data(endpoint), **HTMX)

    assert response.status_code == 400
    assert "valid choice" in response.content.decode()
    assert not BuildHost.objects.exists()


def test_a_full_endpoint_is_a_409_form_error(
    client, developer, other_developer, endpoint, make_host, stubbed_engine
):
    make_host(other_developer, name="a")
    make_host(other_developer, name="b")
    client.force_login(developer)

    response = client.post("/build-hosts/", form_data(endpoint), **HTMX)

    assert response.status_code == 409
    body = response.content.decode()
    assert "already runs 2 build hosts" in body
    assert 'class="form-errors error-text"' in body
    assert BuildHost.objects.filter(owner=developer).count() == 0


def test_an_endpoint_without_an_image_is_a_form_error(
    client, developer, endpoint, stubbed_engine, settings
):
    settings.DCHWEB_BUILD_HOST_IMAGE = ""
    endpoint.default_image = ""
    endpoint.save()
    client.force_login(developer)

    response = client.post("/build-hosts/", form_data(endpoint))

    assert response.status_code == 400
    assert "no default build-host image" in response.content.decode()


# --- Fragments and polling ----------------------------------------------------------


def test_the_list_is_a_full_page_normally_and_a_fragment_for_htmx(
    client, developer, make_host
):
    make_host(developer)
    client.force_login(developer)

    page = client.get("/build-hosts/").content.decode()
    fragment = client.get("/build-hosts/", **HTMX).content.decode()

    assert "<html" in page and "New build host" in page
    assert "<html" not in fragment and "New build host" not in fragment
    assert fragment.lstrip().startswith('<div id="build-host-table"')


def test_the_list_polls_while_a_host_changes_and_stops_when_all_are_settled(
    client, developer, make_host
):
    changing = make_host(developer, name="changing")
    make_host(developer, name="done", state=BuildHost.State.READY)
    client.force_login(developer)

    assert POLL_LIST in client.get("/build-hosts/", **HTMX).content.decode()

    changing.state = BuildHost.State.FAILED
    changing.save()
    assert "hx-trigger" not in client.get("/build-hosts/", **HTMX).content.decode()


def test_the_list_warns_about_a_host_that_expires_soon(client, developer, make_host):
    make_host(
        developer,
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    client.force_login(developer)

    assert "expiry-soon" in client.get("/build-hosts/").content.decode()


def test_the_detail_is_a_full_page_normally_and_a_fragment_for_htmx(
    client, developer, make_host
):
    host = make_host(developer)
    client.force_login(developer)

    page = client.get(f"/build-hosts/{host.pk}/").content.decode()
    fragment = client.get(f"/build-hosts/{host.pk}/", **HTMX).content.decode()

    assert "<html" in page and "Build host bh-1" in page
    assert "<html" not in fragment and "Build host bh-1" not in fragment
    assert fragment.lstrip().startswith('<section id="build-host-status"')


@pytest.mark.parametrize(
    ("state", "polls"),
    [
        (BuildHost.State.REQUESTED, True),
        (BuildHost.State.PROVISIONING, True),
        (BuildHost.State.REMOVING, True),
        (BuildHost.State.READY, False),
        (BuildHost.State.FAILED, False),
        (BuildHost.State.REMOVED, False),
    ],
)
def test_the_timeline_polls_only_while_the_host_is_not_settled(
    client, developer, make_host, state, polls
):
    host = make_host(developer, state=state)
    client.force_login(developer)

    for extra in ({}, HTMX):
        body = client.get(f"/build-hosts/{host.pk}/", **extra).content.decode()
        status = body[body.index('<section id="build-host-status"') :]
        status_tag = status[: status.index(">")]
        assert (POLL_EVERY_SECOND in status_tag) is polls
        assert ("hx-trigger" in status_tag) is polls


def test_a_stopped_host_is_looked_at_now_and_then_for_a_resume_asked_elsewhere(
    client, developer, make_host
):
    host = make_host(developer, state=BuildHost.State.STOPPED)
    client.force_login(developer)

    body = client.get(f"/build-hosts/{host.pk}/", **HTMX).content.decode()

    status_tag = body[: body.index(">")]
    assert 'hx-trigger="every 5s"' in status_tag
    assert POLL_EVERY_SECOND not in status_tag


def test_the_timeline_shows_every_step_as_it_stands(client, developer, make_host):
    host = make_host(developer, step="create_volumes")
    now = timezone.now()
    BuildHostStep.objects.create(
        build_host=host,
        name="pull_image",
        status="done",
        started_at=now - timedelta(seconds=3),
        finished_at=now - timedelta(seconds=1),
    )
    BuildHostStep.objects.create(build_host=host, name="create_volumes", attempt=2)
    client.force_login(developer)

    body = client.get(f"/build-hosts/{host.pk}/", **HTMX).content.decode()

    for name in provisioning.STEPS:
        assert f'data-step="{name}"' in body
    assert 'data-step="pull_image" data-status="done"' in body
    assert "2.0 s" in body
    assert 'data-step="create_volumes" data-status="running"' in body
    assert 'data-step="wait_ready" data-status="pending"' in body
    assert body.count('data-status="pending"') == 5


def test_a_failed_host_says_which_step_failed_and_why(client, developer, make_host):
    host = make_host(
        developer,
        state=BuildHost.State.FAILED,
        step="pull_image",
        error="image not found: registry.test:5443/nope:1",
        error_reason="image_not_found",
    )
    BuildHostStep.objects.create(
        build_host=host,
        name="pull_image",
        status="failed",
        finished_at=timezone.now(),
        error="image not found: registry.test:5443/nope:1",
        reason="image_not_found",
    )
    client.force_login(developer)

    body = client.get(f"/build-hosts/{host.pk}/").content.decode()

    assert "Failed at “Pull the build-host image”" in body
    assert "the image is not in the registry" in body
    assert "image not found: registry.test:5443/nope:1" in body
    assert 'data-step="pull_image" data-status="failed"' in body
    assert "hx-trigger" not in body.split('id="build-host-status"')[1].split(">")[0]


def test_a_ready_host_shows_how_to_connect(client, developer, make_host):
    host = make_host(
        developer, state=BuildHost.State.READY, port=32771, owner_cert_pem="PEM"
    )
    client.force_login(developer)

    body = client.get(f"/build-hosts/{host.pk}/").content.decode()

    assert "export DOCKER_HOST=tcp://127.0.0.1:32771" in body
    assert "export DOCKER_TLS_VERIFY=1" in body
    assert "export DOCKER_CERT_PATH=" in body
    assert "docker info" in body
    assert f'href="/build-hosts/{host.pk}/tls-bundle"' in body
    assert "Extend by 60 minutes" in body
    assert 'value="delete"' in body and 'value="keep"' in body


def test_a_provisioning_host_shows_no_connection_yet(client, developer, make_host):
    host = make_host(developer)
    client.force_login(developer)

    body = client.get(f"/build-hosts/{host.pk}/").content.decode()

    assert "DOCKER_HOST" not in body
    assert "tls-bundle" not in body


# --- Home ---------------------------------------------------------------------------


def test_home_lists_my_active_hosts_and_polls_them_while_they_change(
    client, developer, other_developer, make_host
):
    mine = make_host(developer, name="mine")
    make_host(developer, name="gone", state=BuildHost.State.REMOVED)
    make_host(other_developer, name="theirs")
    client.force_login(developer)

    page = client.get("/").content.decode()
    fragment = client.get("/", HTTP_HX_TARGET="my-build-hosts", **HTMX)

    assert f'href="/build-hosts/{mine.pk}/"' in page
    assert "gone" not in page and "theirs" not in page
    assert 'id="endpoint-health"' in page
    body = fragment.content.decode()
    assert body.lstrip().startswith('<div id="my-build-hosts"')
    assert POLL_LIST in body

    mine.state = BuildHost.State.READY
    mine.save()
    body = client.get("/", HTTP_HX_TARGET="my-build-hosts", **HTMX).content.decode()
    assert "mine" in body and "hx-trigger" not in body


def test_home_endpoint_health_fragment_is_unchanged(client, developer, make_host):
    make_host(developer)
    client.force_login(developer)

    body = client.get("/", HTTP_HX_TARGET="endpoint-health", **HTMX).content.decode()

    assert body.lstrip().startswith('<div id="endpoint-health"')


# --- Bundle, extend, remove ---------------------------------------------------------


def test_the_owner_downloads_the_tls_bundle(client, developer, make_host):
    host = make_host(
        developer,
        state=BuildHost.State.READY,
        port=32771,
        ca_pem="CA",
        owner_cert_pem="CERT",
    )
    host.set_secret("owner_key", "KEY")
    host.save()
    client.force_login(developer)

    response = client.get(f"/build-hosts/{host.pk}/tls-bundle")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == (
        f'attachment; filename="dchweb-{host.short_id}-tls.zip"'
    )
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        assert sorted(bundle.namelist()) == ["ca.pem", "cert.pem", "key.pem"]
        assert bundle.read("key.pem") == b"KEY"


def test_an_admin_downloads_anyones_bundle(client, admin, developer, make_host):
    host = make_host(developer, state=BuildHost.State.READY, owner_cert_pem="CERT")
    client.force_login(admin)

    assert client.get(f"/build-hosts/{host.pk}/tls-bundle").status_code == 200


def test_no_bundle_before_provisioning_is_a_friendly_409(client, developer, make_host):
    host = make_host(developer)
    client.force_login(developer)

    response = client.get(f"/build-hosts/{host.pk}/tls-bundle")

    assert response.status_code == 409
    body = response.content.decode()
    assert "No TLS bundle yet" in body
    assert "made during provisioning" in body
    assert f'href="/build-hosts/{host.pk}/"' in body


def test_extend_adds_an_hour(client, developer, make_host):
    expires = timezone.now() + timedelta(minutes=10)
    host = make_host(developer, state=BuildHost.State.READY, expires_at=expires)
    client.force_login(developer)

    response = client.post(f"/build-hosts/{host.pk}/extend", **HTMX)

    host.refresh_from_db()
    assert response.status_code == 200
    assert (
        response.content.decode().lstrip().startswith('<section id="build-host-status"')
    )
    assert "Extended" in response.content.decode()
    assert host.expires_at == expires + timedelta(minutes=60)


def test_extend_without_htmx_goes_back_to_the_page(client, developer, make_host):
    host = make_host(developer, state=BuildHost.State.READY)
    client.force_login(developer)

    response = client.post(f"/build-hosts/{host.pk}/extend")

    assert response.status_code == 302
    assert response["Location"] == f"/build-hosts/{host.pk}/"


def test_extending_a_removed_host_is_a_message_not_a_500(client, developer, make_host):
    host = make_host(developer, state=BuildHost.State.REMOVED)
    client.force_login(developer)

    response = client.post(f"/build-hosts/{host.pk}/extend", follow=True)

    assert response.status_code == 200
    assert "cannot be extended" in response.content.decode()


@pytest.mark.parametrize(("volumes", "deletes"), [("delete", True), ("keep", False)])
def test_remove_asks_the_worker_with_the_volume_choice(
    client, developer, make_host, stubbed_engine, volumes, deletes
):
    host = make_host(developer, state=BuildHost.State.READY)
    client.force_login(developer)

    with stubbed_engine["committed"]():
        response = client.post(
            f"/build-hosts/{host.pk}/remove", {"volumes": volumes}, **HTMX
        )

    host.refresh_from_db()
    assert response.status_code == 200
    assert host.state == BuildHost.State.REMOVING
    assert host.remove_volumes is deletes
    stubbed_engine["removal"].assert_called_once_with(str(host.pk))
    body = response.content.decode()
    # Removing is not settled: the fragment polls until it is removed.
    assert POLL_EVERY_SECOND in body
    assert 'id="build-host-remove"' not in body


@pytest.mark.parametrize("state", [BuildHost.State.REMOVING, BuildHost.State.REMOVED])
def test_removing_again_is_harmless(
    client, developer, make_host, stubbed_engine, state
):
    host = make_host(developer, state=state)
    client.force_login(developer)

    with stubbed_engine["committed"]():
        response = client.post(
            f"/build-hosts/{host.pk}/remove", {"volumes": "delete"}, follow=True
        )

    host.refresh_from_db()
    assert response.status_code == 200
    assert host.state == state
    assert "already" in response.content.decode()
    stubbed_engine["removal"].assert_not_called()


def test_an_admin_removes_anyones_host(
    client, admin, developer, make_host, stubbed_engine
):
    host = make_host(developer, state=BuildHost.State.READY)
    client.force_login(admin)

    response = client.post(f"/build-hosts/{host.pk}/remove", {"volumes": "keep"})

    host.refresh_from_db()
    assert response.status_code == 302
    assert host.state == BuildHost.State.REMOVING


def test_a_bad_volumes_choice_is_refused(client, developer, make_host, stubbed_engine):
    host = make_host(developer, state=BuildHost.State.READY)
    client.force_login(developer)

    with stubbed_engine["committed"]():
        response = client.post(f"/build-hosts/{host.pk}/remove", {"volumes": "shred"})

    host.refresh_from_db()
    assert host.state == BuildHost.State.READY
    assert response.status_code == 302  # back to the page, with the reason
    stubbed_engine["removal"].assert_not_called()


def test_remove_and_extend_are_posts_only(client, developer, make_host):
    host = make_host(developer, state=BuildHost.State.READY)
    client.force_login(developer)

    assert client.get(f"/build-hosts/{host.pk}/remove").status_code == 405
    assert client.get(f"/build-hosts/{host.pk}/extend").status_code == 405


# --- Endpoints: the reconciler's drift --------------------------------------------


def test_endpoints_show_admins_what_the_database_and_the_engine_say(
    client, admin, endpoint
):
    Endpoint.objects.create(name="fresh", docker_url="unix:///x.sock")
    endpoint.reconcile_summary = {
        "database": 2,
        "engine": 3,
        "engine_volumes": 6,
        "adopted": ["dchweb-abc123"],
        "missing": ["old-host"],
        "error": "",
    }
    endpoint.last_reconciled_at = timezone.now()
    endpoint.save()
    client.force_login(admin)

    body = client.get("/endpoints/").content.decode()

    assert "Database / engine" in body
    assert "database says" in body and '"drift-database">2<' in body
    assert '"drift-engine">3<' in body
    assert "dchweb-abc123" in body and "old-host" in body
    assert "reconciled" in body
    assert "not reconciled yet" in body  # "fresh"


def test_a_failed_listing_shows_its_error(client, admin, endpoint):
    endpoint.reconcile_summary = {
        "error": "the endpoint does not answer",
        "database": 1,
    }
    endpoint.last_reconciled_at = timezone.now()
    endpoint.save()
    client.force_login(admin)

    body = client.get("/endpoints/", **HTMX).content.decode()

    assert "listing failed, nothing changed: the endpoint does not answer" in body
    assert '"drift-engine">?<' in body


def test_developers_do_not_see_the_drift(client, developer, endpoint):
    client.force_login(developer)

    assert "Database / engine" not in client.get("/endpoints/").content.decode()


def test_stop_from_the_page_polls_until_a_worker_has_stopped_the_host(
    client, developer, make_host, stubbed_engine
):
    host = make_host(developer, state=BuildHost.State.READY)
    client.force_login(developer)
    page = client.get(f"/build-hosts/{host.pk}/").content.decode()
    assert "Stop, keeping its volumes" in page

    with (
        mock.patch("hosts.buildhosts.tasks.stop_build_host.delay") as stop,
        stubbed_engine["committed"](),
    ):
        answers = [
            client.post(f"/build-hosts/{host.pk}/stop", **HTMX) for _ in range(2)
        ]

    stop.assert_called_once_with(str(host.pk), "alice")
    host.refresh_from_db()
    assert host.is_stopping and host.state == BuildHost.State.READY
    for answer in answers:
        body = answer.content.decode()
        assert POLL_EVERY_SECOND in body[: body.index(">")]
        assert "Stop, keeping its volumes" not in body


def test_a_busy_host_is_not_stopped_and_the_page_says_why(
    client, developer, make_host, stubbed_engine
):
    host = make_host(developer, state=BuildHost.State.BUSY)
    client.force_login(developer)

    with mock.patch("hosts.buildhosts.tasks.stop_build_host.delay") as stop:
        answer = client.post(f"/build-hosts/{host.pk}/stop", follow=True)

    stop.assert_not_called()
    assert "Not stopped: a build runs on the build host" in answer.content.decode()
