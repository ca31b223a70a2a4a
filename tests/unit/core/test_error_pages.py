"""With DEBUG on (as `make run` has it), the project's own 404, 400 and 500
pages, to everyone; Django's debug pages only with DCHWEB_DEBUG_PAGES
(hosts.middleware.ProjectErrorPagesMiddleware)."""

import pytest
from django.core.exceptions import SuspiciousOperation
from django.test import Client
from django.urls import include, path

pytestmark = pytest.mark.django_db


def crash(request):
    raise RuntimeError("secret internals")


def suspicious(request):
    raise SuspiciousOperation("bad header")


# The project's URLs, and two views that fail (settings.ROOT_URLCONF below).
urlpatterns = [
    path("crash/", crash),
    path("suspicious/", suspicious),
    path("", include("dchweb.urls")),
]

URL_LIST = "Using the URLconf"  # what Django's debug 404 says before the list
TRACEBACK = "Traceback"


@pytest.fixture
def debug(settings):
    settings.DEBUG = True
    settings.DCHWEB_DEBUG_PAGES = False
    return settings


def test_an_unknown_url_is_the_project_404_for_a_visitor_not_signed_in(debug):
    response = Client().get("/no-such-page/")

    body = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in body
    assert "/static/css/dchweb.css" in body
    assert URL_LIST not in body
    assert "build-hosts/" not in body


def test_an_unknown_url_is_the_project_404_when_signed_in_too(debug, client, developer):
    client.force_login(developer)

    response = client.get("/build-hosts/not-a-uuid/")

    body = response.content.decode()
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in body
    assert URL_LIST not in body
    # The page is the dashboard's: its navigation is there.
    assert 'href="/build-hosts/"' in body


def test_a_missing_object_is_the_project_404(debug, client, developer):
    client.force_login(developer)

    response = client.get("/build-hosts/00000000-0000-0000-0000-000000000001/")

    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.content.decode()
    assert URL_LIST not in response.content.decode()


def test_the_project_404_keeps_the_content_security_policy(debug):
    response = Client().get("/no-such-page/")

    assert "Content-Security-Policy" in response


def test_a_missing_slash_is_still_added(debug, client, developer):
    client.force_login(developer)

    response = client.get("/build-hosts")

    assert response.status_code == 301
    assert response["Location"] == "/build-hosts/"


def test_a_crash_is_the_project_500_without_a_traceback(debug, developer):
    debug.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    client.force_login(developer)

    response = client.get("/crash/")

    body = response.content.decode()
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in body
    assert "secret internals" not in body
    assert TRACEBACK not in body


def test_a_suspicious_request_is_the_project_400(debug, developer):
    debug.ROOT_URLCONF = __name__
    client = Client(raise_request_exception=False)
    client.force_login(developer)

    response = client.get("/suspicious/")

    body = response.content.decode()
    assert response.status_code == 400
    assert "<h1>Bad request</h1>" in body
    assert "bad header" not in body


def test_the_api_keeps_its_json_errors(debug, client):
    response = client.get("/api/v1/no-such-route")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_debug_pages_when_asked_for(debug):
    debug.DCHWEB_DEBUG_PAGES = True

    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert URL_LIST in response.content.decode()


def test_a_post_without_its_csrf_token_is_the_project_403_in_words(debug, developer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(developer)

    response = client.post("/build-hosts/", {"name": "x"})

    body = response.content.decode()
    assert response.status_code == 403
    assert "<h1>Not allowed</h1>" in body
    assert "Reload the page and send it again" in body
    assert "CSRF" in body  # tests/badinput/core/test_csrf.py looks for it
    assert "DEBUG = True" not in body
