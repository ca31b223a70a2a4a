"""API tokens: scopes, expiry, last use, and a user's own tokens through
GET/POST /api/v1/tokens and DELETE /api/v1/tokens/{id} (design.md §4.4)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from hosts.accounts import commands as accounts
from hosts.models import ApiToken, AuditEvent, Endpoint

pytestmark = pytest.mark.django_db

TOKEN_FIELDS = {
    "id",
    "name",
    "prefix",
    "scope",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked",
    "state",
}


def token_for(user, **options):
    return accounts.create_api_token(user, "t", actor=None, source="cli", **options)


def call(client, method, path, token, body=None):
    extra = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if body is not None:
        extra |= {"data": json.dumps(body), "content_type": "application/json"}
    return getattr(client, method)(path, **extra)


def assert_error(response, status, code, detail=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code
    if detail is not None:
        assert body["detail"] == detail
    return body


# --- Expiry -------------------------------------------------------------------


def test_an_expired_token_is_401_and_says_when_it_expired(client, developer):
    api_token, plaintext = token_for(developer)
    ApiToken.objects.update(expires_at=datetime(2026, 3, 1, 12, 30, tzinfo=UTC))

    response = call(client, "get", "/api/v1/me", plaintext)

    body = assert_error(response, 401, "unauthorized")
    assert "the token expired on 2026-03-01 12:30 UTC" in body["detail"]
    assert response["WWW-Authenticate"] == "Bearer"
    api_token.refresh_from_db()
    assert api_token.last_used_at is None


def test_a_token_works_until_it_expires(client, developer):
    _, plaintext = token_for(developer)
    ApiToken.objects.update(expires_at=timezone.now() + timedelta(seconds=30))

    assert call(client, "get", "/api/v1/me", plaintext).status_code == 200


def test_a_token_from_before_expiry_existed_never_expires(client, developer):
    _, plaintext = token_for(developer)
    ApiToken.objects.update(expires_at=None)

    assert call(client, "get", "/api/v1/me", plaintext).status_code == 200


def test_an_expired_token_no_longer_opens_metrics_either(client, developer):
    _, plaintext = token_for(developer)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {plaintext}")

    assert response.status_code == 401


# --- Scope --------------------------------------------------------------------


def test_a_read_token_reads(client, developer):
    _, plaintext = token_for(developer, scope="read")

    assert call(client, "get", "/api/v1/build-hosts", plaintext).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/build-hosts", {"endpoint_id": 1}),
        ("post", "/api/v1/tokens", {"name": "more", "scope": "write"}),
        ("delete", "/api/v1/tokens/{own}", None),
        ("put", "/api/v1/endpoints/{endpoint}", {"name": "x"}),
    ],
)
def test_a_read_token_may_not_write_whatever_its_user_may_do(
    client, admin, method, path, body
):
    """An admin's read token too: the scope limits the token, not the user."""
    api_token, plaintext = token_for(admin, scope="read")
    endpoint = Endpoint.objects.create(
        name="e", docker_url="unix:///e.sock", tls_mode="none", publish_host="h"
    )
    path = path.format(own=api_token.pk, endpoint=endpoint.pk)

    response = call(client, method, path, plaintext, body)

    assert_error(response, 403, "forbidden", "this token is read-only")
    assert ApiToken.objects.get().revoked_at is None
    assert ApiToken.objects.count() == 1
    assert Endpoint.objects.get().name == "e"


# --- My tokens ----------------------------------------------------------------


def test_my_tokens_are_listed_with_their_scope_expiry_and_last_use(
    client, developer, other_developer
):
    _, plaintext = token_for(developer, scope="read", expires_days=10)
    token_for(other_developer)
    call(client, "get", "/api/v1/me", plaintext)  # now it has been used

    response = call(client, "get", "/api/v1/tokens", plaintext)

    assert response.status_code == 200
    (listed,) = response.json()
    assert set(listed) == TOKEN_FIELDS
    stored = ApiToken.objects.get(user=developer)
    assert listed["id"] == stored.pk
    assert listed["prefix"] == stored.prefix
    assert listed["scope"] == "read"
    assert listed["revoked"] is False
    assert listed["last_used_at"] is not None
    assert stored.last_used_at is not None
    shown = datetime.fromisoformat(listed["expires_at"])
    assert abs(shown - stored.expires_at) < timedelta(seconds=1)  # to the ms


def test_a_made_token_is_shown_once_and_works(client, developer, developer_token):
    body = {"name": "laptop", "scope": "read"}

    response = call(client, "post", "/api/v1/tokens", developer_token, body)

    assert response.status_code == 201, response.content
    made = response.json()
    assert set(made) == TOKEN_FIELDS | {"token"}
    assert made["scope"] == "read"
    stored = ApiToken.objects.get(pk=made["id"])
    assert made["token"] not in {stored.token_hash, stored.prefix}
    assert (
        timedelta(days=90) - timedelta(minutes=1)
        < (stored.expires_at - timezone.now())
        <= timedelta(days=90)
    )
    assert call(client, "get", "/api/v1/me", made["token"]).status_code == 200
    listed = call(client, "get", "/api/v1/tokens", developer_token).json()
    assert all("token" not in row for row in listed)
    event = AuditEvent.objects.get(action="api_token.created", object_id=stored.pk)
    assert (event.source, event.actor, event.details["scope"]) == (
        "api",
        developer,
        "read",
    )


def test_a_made_token_lives_as_long_as_asked(client, developer_token):
    body = {"name": "ci", "scope": "write", "expires_days": 365}

    made = call(client, "post", "/api/v1/tokens", developer_token, body).json()

    stored = ApiToken.objects.get(pk=made["id"])
    lifetime = stored.expires_at - stored.created_at
    assert abs(lifetime - timedelta(days=365)) < timedelta(minutes=1)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"name": "x", "scope": "write", "expires_days": 366}, "", "1 to 365 days"),
        ({"name": "x", "scope": "write", "expires_days": 0}, "", "1 to 365 days"),
        ({"name": "x", "scope": "admin"}, "scope", "Input should be"),
        ({"name": "x"}, "scope", "Field required"),
        ({"name": " ", "scope": "read"}, "", "a token needs a name"),
    ],
)
def test_a_bad_token_request_is_a_400_and_makes_nothing(
    client, developer_token, body, field, words
):
    response = call(client, "post", "/api/v1/tokens", developer_token, body)

    detail = assert_error(response, 400, response.json()["error"])["detail"]
    assert field in detail
    assert words in detail
    assert ApiToken.objects.count() == 1


def test_i_revoke_my_token_and_it_stops_working(client, developer):
    api_token, plaintext = token_for(developer)
    _, other = token_for(developer)

    response = call(client, "delete", f"/api/v1/tokens/{api_token.pk}", other)

    assert response.status_code == 200
    assert response.json()["revoked"] is True
    assert_error(call(client, "get", "/api/v1/me", plaintext), 401, "unauthorized")
    assert call(client, "get", "/api/v1/me", other).status_code == 200


@pytest.mark.parametrize("who", ["other_developer", "admin"])
def test_anothers_token_is_not_found_even_for_an_admin(client, request, developer, who):
    mine, plaintext = token_for(developer)
    _, theirs = token_for(request.getfixturevalue(who))

    response = call(client, "delete", f"/api/v1/tokens/{mine.pk}", theirs)

    assert_error(response, 404, "not_found")
    assert call(client, "get", "/api/v1/me", plaintext).status_code == 200


def test_the_admin_lists_scope_expiry_and_last_use(client, admin, developer):
    token_for(developer, scope="read")
    ApiToken.objects.update(last_used_at=timezone.now())
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client.force_login(admin)

    page = client.get("/admin/hosts/apitoken/").content.decode()

    for heading in ("Scope", "Expires at", "Last used at"):
        assert heading in page
    assert "Read only" in page


# --- expires_at and state (design.md §4.4: "name, scope, expires_at") ---------


def test_a_token_may_be_asked_to_expire_at_a_moment(client, developer_token):
    moment = timezone.now().replace(microsecond=0) + timedelta(days=3)
    body = {"name": "ci", "scope": "read", "expires_at": moment.isoformat()}

    response = call(client, "post", "/api/v1/tokens", developer_token, body)

    assert response.status_code == 201, response.content
    assert ApiToken.objects.get(pk=response.json()["id"]).expires_at == moment


@pytest.mark.parametrize(
    ("expires_at", "days", "words"),
    [
        (timedelta(days=-1), None, "within the next 365 days"),
        (timedelta(days=400), None, "within the next 365 days"),
        (timedelta(days=3), 3, "not both"),
    ],
    ids=["past", "too-far", "both"],
)
def test_a_bad_expiry_moment_is_a_400_and_makes_nothing(
    client, developer_token, expires_at, days, words
):
    body = {
        "name": "ci",
        "scope": "read",
        "expires_at": (timezone.now() + expires_at).isoformat(),
        "expires_days": days,
    }

    response = call(client, "post", "/api/v1/tokens", developer_token, body)

    assert words in assert_error(response, 400, "invalid")["detail"]
    assert ApiToken.objects.count() == 1


def test_each_token_says_its_state(client, developer):
    revoked, _ = token_for(developer)
    accounts.revoke_api_token(revoked, actor=None, source="cli")
    expired, _ = token_for(developer)
    ApiToken.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    active, plaintext = token_for(developer)

    listed = call(client, "get", "/api/v1/tokens", plaintext).json()

    states = {row["id"]: row["state"] for row in listed}
    assert states == {
        revoked.pk: "revoked",
        expired.pk: "expired",
        active.pk: "active",
    }
