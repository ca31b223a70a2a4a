"""The API: bearer tokens, the one error shape, and the first read endpoints."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.accounts import commands as accounts
from hosts.core import audit
from hosts.models import ApiToken, Endpoint, Registry
from hosts.ops import health

pytestmark = pytest.mark.django_db


def assert_error(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    assert body["detail"]
    return body


# --- Authentication -----------------------------------------------------------


def test_no_token_is_401_json(api_get):
    response = api_get("/api/v1/me")

    assert_error(response, 401, "unauthorized")
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "token", ["nonsense", "dchw_00000000_not-a-real-secret", "dchw__", ""]
)
def test_an_unknown_token_is_401_json(api_get, developer_token, token):
    assert_error(api_get("/api/v1/me", token=token), 401, "unauthorized")


def test_a_token_with_a_wrong_secret_but_a_real_prefix_is_401(api_get, developer_token):
    forged = developer_token[:-4] + "AAAA"

    assert_error(api_get("/api/v1/me", token=forged), 401, "unauthorized")


def test_a_revoked_token_is_401(api_get, developer_token, developer):
    api_token = ApiToken.objects.get(user=developer)
    accounts.revoke_api_token(api_token, actor=developer, source="cli")

    assert_error(api_get("/api/v1/me", token=developer_token), 401, "unauthorized")


def test_an_inactive_users_token_is_401(api_get, developer_token, developer):
    developer.is_active = False
    developer.save()

    assert_error(api_get("/api/v1/me", token=developer_token), 401, "unauthorized")


def test_a_valid_token_says_who_i_am(api_get, developer_token):
    response = api_get("/api/v1/me", token=developer_token)

    assert response.status_code == 200
    assert response.json() == {
        "username": "alice",
        "is_admin": False,
        "groups": ["developers"],
    }


def test_an_admin_is_told_so(api_get, admin_token):
    assert api_get("/api/v1/me", token=admin_token).json()["is_admin"] is True


def test_last_used_is_written_at_most_once_a_minute(api_get, developer_token):
    api_get("/api/v1/me", token=developer_token)
    first = ApiToken.objects.get().last_used_at
    api_get("/api/v1/me", token=developer_token)
    assert ApiToken.objects.get().last_used_at == first

    ApiToken.objects.update(last_used_at=first - timedelta(minutes=2))
    api_get("/api/v1/me", token=developer_token)

    assert first is not None
    assert ApiToken.objects.get().last_used_at > first - timedelta(minutes=1)


def test_a_session_cookie_alone_does_not_authenticate_the_api(client, developer):
    client.force_login(developer)

    assert_error(client.get("/api/v1/me"), 401, "unauthorized")


# --- Error shapes ---------------------------------------------------------------


def test_an_unknown_route_is_404_json(api_get, developer_token):
    body = assert_error(
        api_get("/api/v1/no-such-thing", token=developer_token), 404, "not_found"
    )
    assert "/api/v1/no-such-thing" in body["detail"]


def test_an_unknown_route_is_404_json_without_a_token_too(api_get):
    assert_error(api_get("/api/v1/no-such-thing"), 404, "not_found")


def test_a_wrong_method_is_405_json(client, developer_token):
    response = client.post("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {developer_token}")

    body = assert_error(response, 405, "method_not_allowed")
    assert "GET" in body["detail"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("offset=-1", "offset"), ("limit=x", "limit")],
)
def test_bad_query_parameters_are_400_with_a_readable_detail(
    api_get, admin_token, query, field
):
    response = api_get(f"/api/v1/audit-events?{query}", token=admin_token)

    body = assert_error(response, 400, "bad_request")
    assert body["detail"].startswith(f"{field}: ")


# PostgreSQL cannot store or even compare text holding NUL: every way in
# refuses it first, with a 400, on SQLite too.


@pytest.mark.parametrize("query", ["actor=a%00b", "act%00or=x", "limit=1&action=%00"])
def test_a_nul_in_the_query_string_is_a_400(api_get, admin_token, query):
    response = api_get(f"/api/v1/audit-events?{query}", token=admin_token)

    body = assert_error(response, 400, "bad_request")
    assert "NUL" in body["detail"]


def test_a_nul_in_a_page_query_string_is_a_400(client, admin):
    client.force_login(admin)

    response = client.get("/audit/?actor=a%00b")

    assert response.status_code == 400
    assert "NUL" in response.content.decode()


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a\x00b", "address": "registry.test:5443"},
        {"name": "r", "address": "registry.test:5443", "username": "\x00"},
        {"name": "r", "address": "registry.test:5443", "\x00": "x"},
    ],
)
def test_a_nul_in_a_json_body_is_a_400_and_nothing_is_saved(client, admin_token, body):
    response = client.post(
        "/api/v1/registries",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {admin_token}",
    )

    detail = assert_error(response, 400, "bad_request")["detail"]
    assert "NUL" in detail
    assert not Registry.objects.exists()


def test_an_unexpected_error_is_500_internal_and_logged(
    api_get, admin_token, monkeypatch, caplog
):
    def explode(**filters):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(audit, "audit_events", explode)

    response = api_get("/api/v1/audit-events", token=admin_token)

    body = assert_error(response, 500, "internal")
    assert "on fire" not in body["detail"]
    assert "database on fire" in caplog.text


# --- Read endpoints -------------------------------------------------------------


def test_endpoints_are_listed(api_get, developer_token):
    Endpoint.objects.create(
        name="vch-1", docker_url="tcp://vch-1:2376", publish_host="10.0.0.5"
    )

    response = api_get("/api/v1/endpoints", token=developer_token)

    assert response.status_code == 200
    [endpoint] = response.json()
    assert endpoint["name"] == "vch-1"
    assert endpoint["health"] == "off"
    assert endpoint["tls_mode"] == "tlsverify"


def test_registries_never_show_a_password(api_get, developer_token):
    registry = Registry(name="corp", address="registry.corp:443", username="ci")
    registry.set_password("s3cret-registry-pass")
    registry.save()

    response = api_get("/api/v1/registries", token=developer_token)

    assert response.status_code == 200
    assert "s3cret-registry-pass" not in response.content.decode()
    assert "password_encrypted" not in response.content.decode()
    [item] = response.json()
    assert item["has_password"] is True
    assert item["address"] == "registry.corp:443"


def test_audit_events_are_for_admins_only(api_get, developer_token):
    assert_error(
        api_get("/api/v1/audit-events", token=developer_token), 403, "forbidden"
    )


def test_audit_events_are_paginated_newest_first(api_get, admin_token, admin):
    now = timezone.now()
    for minutes in range(5):
        event = health.record_heartbeat(f"note-{minutes}", hostname="w1")
        event.created_at = now + timedelta(minutes=minutes)
        event.save()

    response = api_get(
        "/api/v1/audit-events?action=worker.&limit=2&offset=1", token=admin_token
    )

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 5
    assert (body["limit"], body["offset"]) == (2, 1)
    assert [item["details"]["note"] for item in body["items"]] == ["note-3", "note-2"]


def test_audit_events_filter_by_actor(api_get, admin_token, developer):
    accounts.create_api_token(developer, "laptop", actor=developer, source="ui")

    response = api_get("/api/v1/audit-events?actor=alice", token=admin_token)

    assert [item["actor"] for item in response.json()["items"]] == ["alice"]


def test_openapi_schema_lists_the_operations(client):
    response = client.get("/api/v1/openapi.json")

    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/me", "/api/v1/endpoints", "/api/v1/registries"):
        assert path in paths
    assert "/api/v1/audit-events" in paths
