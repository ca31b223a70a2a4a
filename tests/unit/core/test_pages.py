"""Pages: login everywhere, admin-only audit, HTMX fragments, friendly errors."""

import pytest
from django.contrib import messages
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory
from django_htmx.middleware import HtmxMiddleware

from hosts.accounts import commands as accounts
from hosts.core import audit
from hosts.middleware import HtmxMessagesMiddleware
from hosts.models import Endpoint
from hosts.ops import health
from hosts.web.audit import AUDIT_PAGE_SIZE

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.parametrize("path", ["/", "/endpoints/", "/registries/", "/audit/"])
def test_pages_send_visitors_to_the_login_page(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={path}"


@pytest.mark.parametrize("path", ["/healthz", "/api/v1/me", "/accounts/login/"])
def test_public_paths_do_not_redirect_to_login(client, path, settings, tmp_path):
    settings.CELERY_BROKER_URL = f"redis+socket://{tmp_path}/nobody.sock"

    response = client.get(path)

    assert response.status_code in (200, 401, 503)


def test_login_page_signs_in_and_lands_on_home(client, developer):
    response = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "alice-password-1"},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == "/"
    assert "Signed in as <strong>alice</strong>" in response.content.decode()


def test_a_wrong_password_stays_on_the_login_page(client, developer):
    response = client.post(
        "/accounts/login/", {"username": "alice", "password": "wrong"}
    )

    assert response.status_code == 200
    assert "enter a correct username and password" in response.content.decode()


def test_logout_is_a_post(client, developer):
    client.force_login(developer)

    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_home_is_a_full_page_normally_and_a_fragment_for_htmx(client, developer):
    Endpoint.objects.create(
        name="vch-1", docker_url="tcp://vch-1:2376", publish_host="10.0.0.5"
    )
    client.force_login(developer)

    page = client.get("/")
    fragment = client.get("/", **HTMX)

    assert "<html" in page.content.decode()
    assert "Signed in as" in page.content.decode()
    assert 'id="endpoint-health"' in page.content.decode()
    assert "<html" not in fragment.content.decode()
    assert "Signed in as" not in fragment.content.decode()
    assert fragment.content.decode().lstrip().startswith('<div id="endpoint-health"')
    assert "vch-1" in fragment.content.decode()
    assert 'hx-trigger="every 10s"' in fragment.content.decode()
    assert "HX-Request" in page["Vary"]


def test_pages_load_htmx_from_our_own_static_files(client, developer):
    client.force_login(developer)

    html = client.get("/").content.decode()

    assert '<script src="/static/django_htmx/htmx-2.min.js"' in html
    assert "unpkg.com" not in html
    assert "cdn" not in html.lower()
    assert 'hx-headers=\'{"X-CSRFToken": "' in html


def test_audit_is_403_for_a_developer(client, developer):
    client.force_login(developer)

    response = client.get("/audit/")

    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()
    assert "Audit</a>" not in client.get("/").content.decode()


def test_audit_lists_and_filters_for_an_admin(client, admin, developer):
    accounts.create_api_token(developer, "laptop", actor=developer, source="ui")
    health.record_heartbeat("beat", hostname="w1")
    client.force_login(admin)

    everything = client.get("/audit/").content.decode()
    by_alice = client.get("/audit/?actor=alice", **HTMX).content.decode()

    assert "api_token.created" in everything
    assert "worker.heartbeat" in everything
    assert "api_token.created" in by_alice
    assert "worker.heartbeat" not in by_alice
    assert "<html" not in by_alice


def test_audit_paginates(client, admin):
    for number in range(AUDIT_PAGE_SIZE + 5):
        health.record_heartbeat(f"beat-{number}", hostname="w1")
    client.force_login(admin)

    first = client.get("/audit/").content.decode()
    second = client.get("/audit/?page=2").content.decode()

    assert "Page 1 of 2" in first
    assert "Page 2 of 2" in second


def test_an_unknown_page_gets_the_friendly_404(client, developer):
    client.force_login(developer)

    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "Back to the dashboard" in response.content.decode()


def test_registries_page_never_shows_a_password(client, developer):
    from hosts.models import Registry

    registry = Registry(name="corp", address="registry.corp:443", username="ci")
    registry.set_password("page-secret-password")
    registry.save()
    client.force_login(developer)

    html = client.get("/registries/").content.decode()

    assert "registry.corp:443" in html
    assert "page-secret-password" not in html


# --- Messages reach HTMX swaps ----------------------------------------------------


def _through_middleware(view, request):
    handler = HtmxMessagesMiddleware(view)
    for middleware in (MessageMiddleware, HtmxMiddleware, SessionMiddleware):
        handler = middleware(handler)
    return handler(request)


def test_messages_ride_along_an_htmx_swap_out_of_band():
    def view(request):
        messages.success(request, "Build host removed.")
        return HttpResponse("<p>fragment</p>")

    response = _through_middleware(view, RequestFactory().post("/", **HTMX))

    html = response.content.decode()
    assert html.startswith("<p>fragment</p>")
    assert 'id="messages"' in html
    assert 'hx-swap-oob="true"' in html
    assert "Build host removed." in html


def test_a_normal_request_is_left_alone():
    def view(request):
        messages.success(request, "Saved.")
        return HttpResponse("<p>page</p>")

    response = _through_middleware(view, RequestFactory().post("/"))

    assert response.content.decode() == "<p>page</p>"


# --- /metrics -------------------------------------------------------------------


def test_metrics_for_a_token_holder(client, developer_token):
    Endpoint.objects.create(
        name="vch-1", docker_url="tcp://vch-1:2376", publish_host="h", health="on"
    )

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {developer_token}")

    assert response.status_code == 200
    text = response.content.decode()
    assert 'dchweb_endpoints{health="on"} 1' in text
    assert 'dchweb_endpoints{health="degraded"} 0' in text
    assert "# TYPE dchweb_audit_events gauge" in text


def test_metrics_for_a_signed_in_user(client, developer):
    client.force_login(developer)

    assert client.get("/metrics").status_code == 200


def test_metrics_refuse_strangers(client):
    assert client.get("/metrics").status_code == 302
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope").status_code == 401


def test_vendored_htmx_and_our_css_are_served_without_login(client):
    for path in ("/static/django_htmx/htmx-2.min.js", "/static/css/dchweb.css"):
        response = client.get(path)

        assert response.status_code == 200, path


def test_a_crash_gets_the_friendly_500(client, admin, monkeypatch):
    def explode(**filters):
        raise RuntimeError("boom")

    monkeypatch.setattr(audit, "audit_events", explode)
    client.raise_request_exception = False
    client.force_login(admin)

    response = client.get("/audit/")

    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
    assert "boom" not in response.content.decode()


def test_django_admin_keeps_its_own_login(client):
    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_api_docs_use_local_swagger_files(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert "/static/ninja/swagger-ui-bundle.js" in response.content.decode()
