"""Build pages: who sees what, the live log by offset, fragments and polling,
text rendered as text, the build form's errors (a 200 with the reason, never
a 500), my builds, cancel, deploy.

No engine and no worker here: builds and hosts are rows made directly, logs
are written with buildlogs.append, and the enqueues are stubbed.
"""

from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from hosts.builds import logs as buildlogs
from hosts.models import Build, BuildHost, Deployment, Endpoint, Registry
from tests.support import world
from tests.support.contexts import archive

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("data_dir")]

HTMX = {"HTTP_HX_REQUEST": "true"}
HOSTILE = "<script>window.__xss=1</script>"
ESCAPED = "&lt;script&gt;window.__xss=1&lt;/script&gt;"
TAG = "registry.test:5443/default-project/app:1"
DIGEST = "sha256:" + "ab" * 32
POLL_STATUS = 'hx-trigger="every 1s"'
POLL_LOG = 'hx-trigger="every 1s"'
ENQUEUE_BUILD = "hosts.builds.tasks.run_build.delay"
ENQUEUE_PROVISION = "hosts.buildhosts.tasks.provision_build_host.delay"
ENQUEUE_DEPLOY = "hosts.deployments.tasks.deploy.delay"
ENQUEUE_UNDEPLOY = "hosts.deployments.tasks.remove_deployment.delay"
LISTING = "hosts.engine.list_managed_containers"


@pytest.fixture
def endpoint():
    return world.unreachable_endpoint(
        default_image="registry.test:5443/default-project/dch-photon:20.10",
        max_build_hosts=5,
    )


@pytest.fixture
def registry():
    return Registry.objects.create(
        name="devstack", address="registry.test:5443", project="default-project"
    )


@pytest.fixture
def make_host(endpoint):
    def make(owner, name="bh-1", state=BuildHost.State.READY, **fields):
        return BuildHost.objects.create(
            owner=owner,
            endpoint=endpoint,
            name=name,
            image="x",
            state=state,
            expires_at=timezone.now() + timedelta(hours=8),
            **fields,
        )

    return make


@pytest.fixture
def make_build(make_host):
    def make(owner, state=Build.State.BUILDING, host=None, **fields):
        fields.setdefault("tags", [TAG])
        fields.setdefault("step", "build" if state == Build.State.BUILDING else "")
        return Build.objects.create(
            owner=owner,
            build_host=host or make_host(owner),
            state=state,
            **fields,
        )

    return make


@pytest.fixture
def running(developer, make_build):
    build = make_build(developer)
    buildlogs.append(build.pk, "Step 1/2 : FROM scratch\n")
    return build


@pytest.fixture
def signed_in(client, developer):
    client.force_login(developer)
    return client


@pytest.fixture
def stubbed(django_capture_on_commit_callbacks):
    """No engine to list and no queue; `committed()` runs a request's
    on-commit callbacks (the enqueues) as a real commit would."""

    def unreachable(*args, **kwargs):
        from hosts import engine

        raise engine.EngineUnreachable("no engine in unit tests")

    with (
        mock.patch(LISTING, side_effect=unreachable),
        mock.patch(ENQUEUE_BUILD) as build,
        mock.patch(ENQUEUE_PROVISION) as provision,
        mock.patch(ENQUEUE_DEPLOY) as deploy,
        mock.patch(ENQUEUE_UNDEPLOY) as undeploy,
    ):
        yield {
            "build": build,
            "provision": provision,
            "deploy": deploy,
            "undeploy": undeploy,
            "committed": lambda: django_capture_on_commit_callbacks(execute=True),
        }


# --- Login and who sees what ------------------------------------------------------

SOME_ID = "00000000-0000-0000-0000-000000000001"


@pytest.mark.parametrize(
    "path",
    [
        "/builds/",
        "/builds/new/",
        f"/builds/{SOME_ID}/",
        f"/builds/{SOME_ID}/log",
        f"/builds/{SOME_ID}/log/download",
    ],
)
def test_build_pages_send_visitors_to_the_login_page(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


def test_a_visitor_cannot_cancel_a_build(client, running):
    response = client.post(f"/builds/{running.pk}/cancel")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    running.refresh_from_db()
    assert not running.cancel_requested


def test_another_developers_build_is_not_found_everywhere(
    client, developer, other_developer, make_build, stubbed
):
    theirs = make_build(
        other_developer, state=Build.State.SUCCEEDED, push=True, digest=DIGEST
    )
    buildlogs.append(theirs.pk, "their secret log\n")
    deployment = Deployment.objects.create(
        owner=other_developer,
        endpoint=theirs.build_host.endpoint,
        image=f"registry.test:5443/default-project/app@{DIGEST}",
    )
    client.force_login(developer)
    base = f"/builds/{theirs.pk}"

    assert client.get(f"{base}/").status_code == 404
    assert client.get(f"{base}/", **HTMX).status_code == 404
    assert client.get(f"{base}/log?offset=0", **HTMX).status_code == 404
    assert client.get(f"{base}/log/download").status_code == 404
    assert client.post(f"{base}/cancel", **HTMX).status_code == 404
    assert (
        client.post(
            f"{base}/deploy", {"endpoint": theirs.build_host.endpoint_id}, **HTMX
        ).status_code
        == 404
    )
    assert client.get(f"{base}/deployments/{deployment.pk}/", **HTMX).status_code == 404
    assert client.post(f"{base}/deployments/{deployment.pk}/remove").status_code == 404
    theirs.refresh_from_db()
    deployment.refresh_from_db()
    assert not theirs.cancel_requested
    assert deployment.state == Deployment.State.REQUESTED
    assert Deployment.objects.count() == 1
    assert "their secret log" not in client.get("/").content.decode()


def test_an_unknown_build_is_not_found(signed_in):
    assert signed_in.get(f"/builds/{SOME_ID}/").status_code == 404
    assert signed_in.get(f"/builds/{SOME_ID}/log").status_code == 404


def test_an_admin_sees_another_developers_build(client, admin, running):
    client.force_login(admin)

    assert client.get(f"/builds/{running.pk}/").status_code == 200


# --- The page and its fragments ----------------------------------------------------


def test_the_page_shows_the_state_the_tail_and_polls_while_running(signed_in, running):
    response = signed_in.get(f"/builds/{running.pk}/")
    page = response.content.decode()

    assert response.status_code == 200
    assert "<html" in page
    assert 'id="build-status" data-state="building"' in page
    assert "building the image" in page
    assert TAG in page
    assert f'href="/build-hosts/{running.build_host_id}/"' in page
    assert "Step 1/2 : FROM scratch" in page
    offset = buildlogs.size(running.pk)
    assert f'hx-get="/builds/{running.pk}/log?offset={offset}"' in page
    assert POLL_LOG in page and 'hx-swap="beforeend"' in page
    assert f'hx-get="/builds/{running.pk}/"' in page and POLL_STATUS in page
    assert "Download the whole log" in page
    assert f'action="/builds/{running.pk}/cancel"' in page


def test_an_htmx_request_gets_the_status_fragment(signed_in, running):
    fragment = signed_in.get(f"/builds/{running.pk}/", **HTMX).content.decode()

    assert "<html" not in fragment
    assert 'id="build-status"' in fragment
    assert 'id="build-log"' not in fragment
    assert POLL_STATUS in fragment


def test_a_final_build_polls_nothing_and_offers_no_cancel(
    signed_in, developer, make_build
):
    build = make_build(developer, state=Build.State.CANCELLED, step="build")
    buildlogs.append(build.pk, "stopped\n")

    page = signed_in.get(f"/builds/{build.pk}/").content.decode()
    fragment = signed_in.get(f"/builds/{build.pk}/", **HTMX).content.decode()

    for html in (page, fragment):
        assert "hx-trigger" not in html
        assert "/cancel" not in html
    assert "Cancelled while building the image" in page


def test_log_lines_and_names_are_text_not_html(signed_in, developer, make_build):
    build = make_build(
        developer,
        tags=[f"app:{HOSTILE}"],
        push=False,
        build_args={"X": HOSTILE},
        error=HOSTILE,
        state=Build.State.FAILED,
    )
    build.build_host.name = HOSTILE
    build.build_host.save()
    buildlogs.append(build.pk, f"{HOSTILE}\n")

    page = signed_in.get(f"/builds/{build.pk}/").content.decode()
    buildlogs.append(build.pk, f"more {HOSTILE}\n")
    chunk = signed_in.get(f"/builds/{build.pk}/log?offset=0", **HTMX).content.decode()
    listing = signed_in.get("/").content.decode()

    for html in (page, chunk, listing):
        assert HOSTILE not in html
    assert page.count(ESCAPED) >= 4  # tag, build arg, host name, error, log
    assert ESCAPED in chunk and ESCAPED in listing


def test_a_failure_says_its_step_and_reason_in_words(signed_in, developer, make_build):
    build = make_build(
        developer,
        state=Build.State.FAILED,
        step="push",
        error="unauthorized: authentication required",
        error_reason="login_refused",
    )

    page = signed_in.get(f"/builds/{build.pk}/").content.decode()

    assert "Failed while pushing the image to the registry" in page
    assert "the registry refused the login" in page
    assert "unauthorized: authentication required" in page


def test_a_pushed_build_shows_its_digest_the_pull_line_and_deploy(
    signed_in, developer, make_build
):
    build = make_build(
        developer,
        state=Build.State.SUCCEEDED,
        step="push",
        push=True,
        digest=DIGEST,
        tags=[TAG, "registry.test:5443/default-project/app:latest"],
    )

    page = signed_in.get(f"/builds/{build.pk}/").content.decode()

    assert DIGEST in page
    assert f"docker pull registry.test:5443/default-project/app@{DIGEST}" in page
    assert f'action="/builds/{build.pk}/deploy"' in page
    assert "hx-trigger" not in page


def test_an_unpushed_build_offers_no_deploy(signed_in, developer, make_build):
    build = make_build(
        developer,
        state=Build.State.SUCCEEDED,
        push=False,
        tags=["app:1"],
        image_id="sha256:" + "cd" * 32,
    )

    page = signed_in.get(f"/builds/{build.pk}/").content.decode()

    assert "docker pull" not in page
    assert "/deploy" not in page
    assert "sha256:" + "cd" * 32 in page


# --- The log by offset -------------------------------------------------------------


def test_the_log_answers_the_text_after_the_offset_and_the_next_offset(
    signed_in, running
):
    start = buildlogs.size(running.pk)
    buildlogs.append(running.pk, "Step 2/2 : COPY x /\n")
    end = buildlogs.size(running.pk)

    response = signed_in.get(f"/builds/{running.pk}/log?offset={start}", **HTMX)
    chunk = response.content.decode()

    assert response.status_code == 200
    assert response["X-Next-Offset"] == str(end)
    assert '<span class="log-chunk">Step 2/2 : COPY x /\n</span>' in chunk
    assert "Step 1/2" not in chunk
    assert 'id="build-log-poller"' in chunk and 'hx-swap-oob="true"' in chunk
    assert f"/log?offset={end}" in chunk and POLL_LOG in chunk


def test_no_new_text_is_no_chunk_and_the_same_offset(signed_in, running):
    end = buildlogs.size(running.pk)

    response = signed_in.get(f"/builds/{running.pk}/log?offset={end}", **HTMX)
    chunk = response.content.decode()

    assert response["X-Next-Offset"] == str(end)
    assert "<span" not in chunk
    assert f"/log?offset={end}" in chunk and POLL_LOG in chunk
    # Nothing but the out-of-band poller: no stray text lands in the log.
    assert chunk.startswith('<div id="build-log-poller"')
    assert chunk.endswith("</div>")


def test_an_offset_past_the_end_reads_from_the_end(signed_in, running):
    end = buildlogs.size(running.pk)

    response = signed_in.get(f"/builds/{running.pk}/log?offset={end + 1000}", **HTMX)

    assert response.status_code == 200
    assert response["X-Next-Offset"] == str(end)


@pytest.mark.parametrize("offset", ["abc", "-1", "1e9", str(2**70)])
def test_a_bad_offset_is_a_400(signed_in, running, offset):
    response = signed_in.get(f"/builds/{running.pk}/log?offset={offset}", **HTMX)

    assert response.status_code == 400


def test_a_character_cut_at_the_chunk_end_waits_for_the_next_read(
    signed_in, developer, make_build
):
    build = make_build(developer)
    buildlogs.append(build.pk, "a" * (buildlogs.MAX_CHUNK_BYTES - 1) + "é\n")

    first = signed_in.get(f"/builds/{build.pk}/log?offset=0", **HTMX)
    second = signed_in.get(
        f"/builds/{build.pk}/log?offset={first['X-Next-Offset']}", **HTMX
    )

    assert first["X-Next-Offset"] == str(buildlogs.MAX_CHUNK_BYTES - 1)
    assert "\ufffd" not in first.content.decode()
    assert '<span class="log-chunk">é\n</span>' in second.content.decode()
    assert second["X-Next-Offset"] == str(buildlogs.size(build.pk))


def test_the_log_polls_until_the_build_is_final_and_read_to_its_end(signed_in, running):
    start = buildlogs.size(running.pk)
    buildlogs.append(running.pk, "Successfully built 1234\n")
    running.state = Build.State.SUCCEEDED
    running.save()
    end = buildlogs.size(running.pk)

    # Final, but text came: one more look, in case more follows.
    last_text = signed_in.get(f"/builds/{running.pk}/log?offset={start}", **HTMX)
    # Final and nothing new: the poller comes back without a trigger.
    done = signed_in.get(f"/builds/{running.pk}/log?offset={end}", **HTMX)

    assert "Successfully built 1234" in last_text.content.decode()
    assert POLL_LOG in last_text.content.decode()
    assert 'id="build-log-poller"' in done.content.decode()
    assert "hx-get" not in done.content.decode()
    page = signed_in.get(f"/builds/{running.pk}/").content.decode()
    assert "hx-trigger" not in page


def test_the_page_of_a_build_with_no_log_yet(signed_in, developer, make_build):
    build = make_build(developer, state=Build.State.QUEUED)

    page = signed_in.get(f"/builds/{build.pk}/").content.decode()

    assert "/log?offset=0" in page and POLL_LOG in page


def test_a_long_log_shows_its_end_on_the_page(signed_in, developer, make_build):
    build = make_build(developer)
    buildlogs.append(build.pk, "first line\n" + "x" * 40 * 1024 + "\nlast line\n")

    page = signed_in.get(f"/builds/{build.pk}/").content.decode()

    assert "last line" in page and "first line" not in page
    assert "Only the end of the log is shown here" in page
    assert f"offset={buildlogs.size(build.pk)}" in page


def test_the_whole_log_downloads_as_a_text_attachment(signed_in, running):
    buildlogs.append(running.pk, f"{HOSTILE}\n")

    response = signed_in.get(f"/builds/{running.pk}/log/download")

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="build-{running.short_id}.log"'
    )
    body = b"".join(response.streaming_content)
    assert body == buildlogs.path_of(running.pk).read_bytes()


def test_a_build_without_a_log_downloads_an_empty_file(
    signed_in, developer, make_build
):
    build = make_build(developer, state=Build.State.QUEUED)

    response = signed_in.get(f"/builds/{build.pk}/log/download")

    assert response.status_code == 200
    assert response.content == b""
    assert response["Content-Disposition"].startswith("attachment")


# --- Cancel ------------------------------------------------------------------------


def test_cancel_from_the_page_answers_the_status_fragment(signed_in, running):
    response = signed_in.post(f"/builds/{running.pk}/cancel", **HTMX)
    fragment = response.content.decode()

    assert response.status_code == 200
    assert 'id="build-status"' in fragment
    assert "(cancelling)" in fragment
    assert f'action="/builds/{running.pk}/cancel"' not in fragment
    running.refresh_from_db()
    assert running.cancel_requested


def test_a_queued_build_is_cancelled_at_once(signed_in, developer, make_build):
    build = make_build(developer, state=Build.State.QUEUED)

    response = signed_in.post(f"/builds/{build.pk}/cancel")

    assert response.status_code == 302
    assert response["Location"] == f"/builds/{build.pk}/"
    build.refresh_from_db()
    assert build.state == Build.State.CANCELLED


def test_cancel_wants_a_post(signed_in, running):
    assert signed_in.get(f"/builds/{running.pk}/cancel").status_code == 405


# --- The build form ------------------------------------------------------------------


def test_home_offers_the_form_with_an_endpoint(signed_in, endpoint):
    off = Endpoint.objects.create(
        name="switched-off", docker_url="unix:///x", health="disabled"
    )

    page = signed_in.get("/").content.decode()

    assert 'id="new-build"' in page
    assert 'action="/builds/new/"' in page and 'enctype="multipart/form-data"' in page
    assert 'hx-encoding="multipart/form-data"' in page
    assert f'<option value="{endpoint.pk}"' in page
    assert f'<option value="{off.pk}"' not in page
    for name in ("context", "dockerfile_text", "dockerfile", "tag", "build_args"):
        assert f'name="{name}"' in page
    assert 'name="push"' in page and 'name="volume_policy"' in page
    assert 'name="build_host_id"' not in page


def test_a_ready_host_offers_the_form_for_itself(signed_in, developer, make_host):
    host = make_host(developer, state=BuildHost.State.READY)

    page = signed_in.get(f"/build-hosts/{host.pk}/").content.decode()

    assert 'id="new-build-on-host"' in page
    assert f'name="build_host_id" value="{host.pk}"' in page
    assert 'name="endpoint_id"' not in page
    # It keeps watching the host, slowly, so that the form goes with it; the
    # answers keep the form being filled in (hx-preserve).
    assert (
        f'hx-get="/builds/new/?build_host_id={host.pk}" hx-trigger="every 3s"' in page
    )
    assert 'id="new-build-on-host-form" hx-preserve="true"' in page


def test_a_provisioning_host_polls_for_the_form_until_it_is_ready(
    signed_in, developer, make_host
):
    host = make_host(developer, state=BuildHost.State.PROVISIONING)
    url = f"/builds/new/?build_host_id={host.pk}"

    page = signed_in.get(f"/build-hosts/{host.pk}/").content.decode()
    waiting = signed_in.get(url, **HTMX).content.decode()
    host.state = BuildHost.State.READY
    host.save()
    ready = signed_in.get(url, **HTMX).content.decode()

    assert f'hx-get="{url}"' in page and 'name="tag"' not in page
    assert f'hx-get="{url}"' in waiting
    assert "<html" not in ready
    assert 'name="tag"' in ready and 'hx-trigger="every 3s"' in ready


def test_the_form_goes_when_its_host_is_removed(signed_in, developer, make_host):
    host = make_host(developer, state=BuildHost.State.READY)
    url = f"/builds/new/?build_host_id={host.pk}"
    host.state = BuildHost.State.REMOVED
    host.save()

    gone = signed_in.get(url, **HTMX).content.decode()

    assert 'name="tag"' not in gone and "hx-get" not in gone
    assert "this build host is removed" in gone
    # The host's status (no longer polling) comes along, out of band.
    assert (
        '<section id="build-host-status" data-state="removed" hx-swap-oob="true"'
        in gone
    )


def test_a_failed_host_offers_no_form(signed_in, developer, make_host):
    host = make_host(developer, state=BuildHost.State.FAILED)

    page = signed_in.get(f"/build-hosts/{host.pk}/").content.decode()

    assert 'name="tag"' not in page
    assert "/builds/new/?build_host_id" not in page


def test_the_form_for_another_developers_host_is_not_found(
    signed_in, other_developer, make_host
):
    theirs = make_host(other_developer)

    response = signed_in.get(f"/builds/new/?build_host_id={theirs.pk}", **HTMX)

    assert response.status_code == 404


def test_a_build_from_home_makes_an_ephemeral_host_and_opens_the_build(
    signed_in, endpoint, registry, stubbed
):
    with stubbed["committed"]():
        response = signed_in.post(
            "/builds/new/",
            {
                "context": SimpleUploadedFile(
                    "c.tar.gz", archive({"Dockerfile": b"FROM scratch\n"}, gzipped=True)
                ),
                "dockerfile": "Dockerfile",
                "tag": f"{TAG} registry.test:5443/default-project/app:latest",
                "build_args": '{"GREETING": "hi"}',
                "push": "on",
                "endpoint_id": endpoint.pk,
                "volume_policy": "keep",
            },
            **HTMX,
        )

    build = Build.objects.get()
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/builds/{build.pk}/"
    assert build.ephemeral and build.push
    assert build.tags == [TAG, "registry.test:5443/default-project/app:latest"]
    assert build.build_args == {"GREETING": "hi"}
    assert build.build_host.policy_label == "keep"
    stubbed["build"].assert_called_once_with(str(build.pk))


def test_a_build_on_a_host_from_a_written_dockerfile(
    signed_in, developer, make_host, stubbed
):
    host = make_host(developer)
    with stubbed["committed"]():
        response = signed_in.post(
            "/builds/new/",
            {
                "dockerfile_text": "FROM scratch\n",
                "dockerfile": "Dockerfile",
                "tag": "dchweb-ui/app:1",
                "build_host_id": str(host.pk),
            },
        )

    build = Build.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/builds/{build.pk}/"
    assert build.build_host == host and not build.ephemeral and not build.push


def test_the_more_options_of_a_build_reach_it(signed_in, developer, make_host, stubbed):
    host = make_host(developer)
    with stubbed["committed"]():
        signed_in.post(
            "/builds/new/",
            {
                "dockerfile_text": "FROM scratch\n",
                "dockerfile": "Dockerfile",
                "tag": "dchweb-ui/app:1",
                "build_host_id": str(host.pk),
                "target": "final",
                "cache_from": "dchweb-ui/app:0",
                "labels": '{"team": "web"}',
                "no_cache": "on",
            },
        )

    build = Build.objects.get()
    assert (build.target, build.cache_from, build.labels) == (
        "final",
        ["dchweb-ui/app:0"],
        {"team": "web"},
    )
    assert build.no_cache and not build.pull
    page = signed_in.get(f"/builds/{build.pk}/").content.decode()
    assert "stage <code>final</code>" in page and "<code>team=web</code>" in page


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"tag": "NOT A TAG", "push": "on"},
            "is not &lt;registry&gt;/&lt;project&gt;/&lt;name&gt;:&lt;tag&gt;",
        ),
        ({"tag": "other.test:5000/p/a:1", "push": "on"}, "is not a registry dchweb"),
        ({"build_args": "not json"}, "the build arguments are a JSON object"),
        ({"dockerfile": "../Dockerfile"}, "Dockerfile"),
        ({"dockerfile_text": ""}, "Upload a context archive or write a Dockerfile."),
        ({"labels": "[]"}, "the labels are a JSON object"),
        ({"target": "two words"}, "is not a stage name"),
    ],
)
def test_a_refused_build_shows_the_form_with_the_reason(
    signed_in, developer, make_host, registry, stubbed, fields, message
):
    host = make_host(developer)
    data = {
        "dockerfile_text": "FROM scratch\n",
        "dockerfile": "Dockerfile",
        "tag": "dchweb-ui/app:1",
        "build_host_id": str(host.pk),
        **fields,
    }

    with stubbed["committed"]():
        page = signed_in.post("/builds/new/", data)
        fragment = signed_in.post("/builds/new/", data, **HTMX)

    assert page.status_code == 200 and "<html" in page.content.decode()
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    for response in (page, fragment):
        html = response.content.decode()
        assert message in html
        assert 'role="alert"' in html
        assert 'id="new-build-on-host"' in html
    assert not Build.objects.exists()
    stubbed["build"].assert_not_called()


def test_a_host_that_is_not_ready_is_a_form_error(
    signed_in, developer, make_host, stubbed
):
    host = make_host(developer, state=BuildHost.State.REMOVING)

    response = signed_in.post(
        "/builds/new/",
        {
            "dockerfile_text": "FROM scratch\n",
            "tag": "a:1",
            "dockerfile": "Dockerfile",
            "build_host_id": str(host.pk),
        },
        **HTMX,
    )

    assert response.status_code == 200
    assert f"build host {host.name} is removing, not ready" in response.content.decode()


def test_a_cap_on_the_ephemeral_host_is_a_form_error(
    signed_in, developer, endpoint, make_host, stubbed
):
    endpoint.max_build_hosts = 1
    endpoint.save()
    make_host(developer, state=BuildHost.State.READY)

    with stubbed["committed"]():
        response = signed_in.post(
            "/builds/new/",
            {
                "dockerfile_text": "FROM scratch\n",
                "dockerfile": "Dockerfile",
                "tag": "a:1",
                "endpoint_id": endpoint.pk,
                "volume_policy": "delete",
            },
            **HTMX,
        )

    html = response.content.decode()
    assert response.status_code == 200
    assert "its cap" in html and 'id="new-build"' in html
    assert not Build.objects.exists()
    stubbed["provision"].assert_not_called()


def test_an_upload_and_a_written_dockerfile_together_are_refused(
    signed_in, endpoint, stubbed
):
    response = signed_in.post(
        "/builds/new/",
        {
            "context": SimpleUploadedFile(
                "c.tar", archive({"Dockerfile": b"FROM x\n"})
            ),
            "dockerfile_text": "FROM scratch\n",
            "dockerfile": "Dockerfile",
            "tag": "a:1",
            "endpoint_id": endpoint.pk,
            "volume_policy": "delete",
        },
    )

    assert response.status_code == 200
    assert "not both" in response.content.decode()
    assert not Build.objects.exists()


def test_a_bad_archive_is_a_form_error(signed_in, endpoint, stubbed):
    response = signed_in.post(
        "/builds/new/",
        {
            "context": SimpleUploadedFile("c.tar", b"this is not a tar archive"),
            "dockerfile": "Dockerfile",
            "tag": "a:1",
            "endpoint_id": endpoint.pk,
            "volume_policy": "delete",
        },
        **HTMX,
    )

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert not Build.objects.exists()


# --- My builds ----------------------------------------------------------------------


def test_home_lists_my_newest_builds_only(
    signed_in, developer, other_developer, make_build, make_host
):
    host = make_host(developer)
    mine = [
        make_build(
            developer,
            host=host,
            state=Build.State.SUCCEEDED,
            tags=[f"mine/app:{index}"],
            created_at=timezone.now() - timedelta(minutes=index),
        )
        for index in range(12)
    ]
    theirs = make_build(other_developer, tags=["theirs/app:1"])

    page = signed_in.get("/").content.decode()

    assert 'id="my-builds"' in page
    for build in mine[:10]:
        assert f'href="/builds/{build.pk}/"' in page
    for build in mine[10:]:
        assert f'href="/builds/{build.pk}/"' not in page
    assert str(theirs.pk) not in page and "theirs/app" not in page
    assert 'hx-get="/builds/"' not in page  # all final: no polling


def test_my_builds_poll_while_one_runs(signed_in, developer, make_build):
    build = make_build(developer, state=Build.State.PUSHING)

    page = signed_in.get("/").content.decode()
    fragment = signed_in.get("/builds/", **HTMX).content.decode()
    build.state = Build.State.SUCCEEDED
    build.save()
    settled = signed_in.get("/builds/", **HTMX).content.decode()

    assert 'hx-get="/builds/"' in page
    assert 'id="my-builds"' in fragment and 'hx-get="/builds/"' in fragment
    assert "<html" not in fragment
    assert 'id="my-builds"' in settled and "hx-get" not in settled


def test_the_builds_page_lists_and_offers_the_form(signed_in, running, endpoint):
    page = signed_in.get("/builds/").content.decode()

    assert f'href="/builds/{running.pk}/"' in page
    assert 'id="new-build"' in page


# --- Deploy --------------------------------------------------------------------------


@pytest.fixture
def pushed(developer, make_build):
    return make_build(
        developer, state=Build.State.SUCCEEDED, step="push", push=True, digest=DIGEST
    )


def test_deploy_runs_the_pushed_digest_and_shows_it(
    signed_in, pushed, endpoint, registry, stubbed
):
    with stubbed["committed"]():
        response = signed_in.post(
            f"/builds/{pushed.pk}/deploy", {"endpoint": endpoint.pk}, **HTMX
        )

    deployment = Deployment.objects.get()
    panel = response.content.decode()
    assert response.status_code == 200
    assert deployment.image == f"registry.test:5443/default-project/app@{DIGEST}"
    assert deployment.endpoint == endpoint and deployment.registry == registry
    stubbed["deploy"].assert_called_once_with(str(deployment.pk))
    assert 'id="build-deploy"' in panel
    assert f'id="deployment-{deployment.pk}"' in panel
    assert (
        f'hx-get="/builds/{pushed.pk}/deployments/{deployment.pk}/"' in panel
    )  # requested: it polls
    page = signed_in.get(f"/builds/{pushed.pk}/").content.decode()
    assert f'id="deployment-{deployment.pk}"' in page


def test_a_deployment_stops_polling_once_it_exited_and_can_be_removed(
    signed_in, developer, pushed, endpoint, stubbed
):
    deployment = Deployment.objects.create(
        owner=developer,
        endpoint=endpoint,
        image=f"registry.test:5443/default-project/app@{DIGEST}",
        state=Deployment.State.EXITED,
        exit_code=0,
    )
    url = f"/builds/{pushed.pk}/deployments/{deployment.pk}/"

    fragment = signed_in.get(url, **HTMX).content.decode()
    with stubbed["committed"]():
        removed = signed_in.post(f"{url}remove", **HTMX).content.decode()

    assert "hx-trigger" not in fragment and "exit code 0" in fragment
    assert f'hx-post="{url}remove"' in fragment
    deployment.refresh_from_db()
    assert deployment.state == Deployment.State.REMOVING
    stubbed["undeploy"].assert_called_once_with(str(deployment.pk))
    assert 'data-state="removing"' in removed and 'hx-trigger="every 2s"' in removed
    assert "Remove</button>" not in removed


def test_a_build_that_pushed_nothing_cannot_be_deployed(
    signed_in, developer, make_build, endpoint, stubbed
):
    build = make_build(developer, state=Build.State.FAILED)

    response = signed_in.post(
        f"/builds/{build.pk}/deploy", {"endpoint": endpoint.pk}, **HTMX
    )

    assert response.status_code == 200
    assert "Only a build that pushed its image can be deployed." in (
        response.content.decode()
    )
    assert not Deployment.objects.exists()


def test_a_disabled_endpoint_is_a_deploy_form_error(
    signed_in, pushed, endpoint, stubbed
):
    endpoint.health = Endpoint.Health.DISABLED
    endpoint.save()

    response = signed_in.post(
        f"/builds/{pushed.pk}/deploy", {"endpoint": endpoint.pk}, **HTMX
    )

    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert not Deployment.objects.exists()
