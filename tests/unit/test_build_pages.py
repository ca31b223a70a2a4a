"""Build pages: the live log by offset, the form's errors, who sees what."""

from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from hosts import buildlogs
from hosts.models import Build, BuildHost, Endpoint, Registry

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
HOSTILE = "<script>window.__xss=1</script>"


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.DCHWEB_DATA_DIR = tmp_path


@pytest.fixture
def build(developer):
    endpoint = Endpoint.objects.create(
        name="e",
        docker_url="unix:///nonexistent.sock",
        tls_mode="none",
        publish_host="127.0.0.1",
    )
    host = BuildHost.objects.create(
        owner=developer,
        endpoint=endpoint,
        name="h",
        image="i",
        state=BuildHost.State.READY,
        expires_at=timezone.now(),
    )
    found = Build.objects.create(
        owner=developer,
        build_host=host,
        tags=["registry.test:5443/p/app:1"],
        state=Build.State.BUILDING,
    )
    buildlogs.append(found.pk, f"Step 1/2 : FROM scratch\n{HOSTILE}\n")
    return found


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_the_log_as_text_and_polls_while_running(developer, build):
    page = signed_in(developer).get(f"/builds/{build.pk}/").content.decode()

    assert "Step 1/2 : FROM scratch" in page
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert f"/builds/{build.pk}/log?offset={buildlogs.size(build.pk)}" in page
    assert 'hx-trigger="every 1s"' in page


def test_the_log_is_appended_by_offset_until_final_and_read(developer, build):
    client = signed_in(developer)
    start = buildlogs.size(build.pk)
    buildlogs.append(build.pk, "Step 2/2 : COPY x /\n")

    chunk = client.get(f"/builds/{build.pk}/log?offset={start}", **HTMX)
    text = chunk.content.decode()
    assert 'hx-swap-oob="beforeend:#build-log"' in text
    assert "Step 2/2 : COPY x /" in text and "Step 1/2" not in text
    end = buildlogs.size(build.pk)
    assert f"offset={end}" in text

    build.state = Build.State.SUCCEEDED
    build.save()
    last = client.get(f"/builds/{build.pk}/log?offset={end}", **HTMX).content.decode()
    assert "hx-get" not in last  # final and read to its end: polling stops
    page = client.get(f"/builds/{build.pk}/").content.decode()
    assert 'hx-trigger="every 1s"' not in page


def test_the_whole_log_downloads(developer, build):
    answer = signed_in(developer).get(f"/builds/{build.pk}/log/download")
    assert answer["Content-Disposition"].startswith("attachment")
    assert (
        b"".join(answer.streaming_content) == buildlogs.path_of(build.pk).read_bytes()
    )


def test_another_developer_gets_404_everywhere(build, django_user_model):
    stranger = signed_in(django_user_model.objects.create_user("eve", password="x"))
    for url in ("", "log", "log/download"):
        assert stranger.get(f"/builds/{build.pk}/{url}").status_code == 404
    assert stranger.post(f"/builds/{build.pk}/cancel").status_code == 404
    build.refresh_from_db()
    assert not build.cancel_requested


def test_cancel_from_the_page(developer, build):
    answer = signed_in(developer).post(f"/builds/{build.pk}/cancel", **HTMX)
    assert answer.status_code == 200
    build.refresh_from_db()
    assert build.cancel_requested


def test_a_refused_build_shows_the_form_with_the_reason(developer, build):
    Registry.objects.create(name="r", address="registry.test:5443")
    answer = signed_in(developer).post(
        "/builds/new/",
        {
            "tag": "NOT A TAG",
            "build_host_id": str(build.build_host_id),
            "dockerfile_text": "FROM scratch\n",
            "push": "on",
        },
    )
    assert answer.status_code == 400
    assert "is not &lt;registry&gt;/&lt;project&gt;/&lt;name&gt;:&lt;tag&gt;" in (
        answer.content.decode()
    )


def test_a_build_from_the_form_goes_to_its_page(developer, build):
    Registry.objects.create(name="r", address="registry.test:5443")
    with mock.patch("hosts.tasks.run_build.delay"):
        answer = signed_in(developer).post(
            "/builds/new/",
            {
                "tag": "registry.test:5443/p/new:1",
                "build_host_id": str(build.build_host_id),
                "dockerfile_text": "FROM scratch\n",
                "push": "on",
            },
        )
    created = Build.objects.exclude(pk=build.pk).get()
    assert answer.status_code == 302 and answer.url == f"/builds/{created.pk}/"


def test_home_and_a_ready_host_offer_the_form(developer, build):
    client = signed_in(developer)
    assert 'action="/builds/new/"' in client.get("/").content.decode()
    host_page = client.get(f"/build-hosts/{build.build_host_id}/").content.decode()
    assert 'action="/builds/new/"' in host_page
