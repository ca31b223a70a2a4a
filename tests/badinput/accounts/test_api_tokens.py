"""Every API operation refuses a request without a valid token: none, a made
up one, a revoked one, a malformed header. Each is a 401 in the API's one
error shape, before the body or the ids are even looked at. The operations
come from the OpenAPI schema, so a route added later is covered too; only the
schema itself and its docs page are public (the unit tests read the schema
without a token, and clients need it to know how to authenticate)."""

import re

import pytest
from django.test import Client

from hosts.accounts import commands as accounts
from hosts.api import api

pytestmark = [pytest.mark.badinput, pytest.mark.django_db, pytest.mark.timeout(60)]

PUBLIC = {("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/docs")}
# A value of the right type for each path parameter: refusal must not depend
# on whether the row exists.
PATH_VALUES = {"integer": "1", "string": "7b0c4f4e-2f7e-4a55-9a7e-0f6f3c1d2e3f"}


def operations():
    schema = api.get_openapi_schema()
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            types = {
                parameter["name"]: parameter["schema"].get("type", "string")
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "path"
            }
            url = re.sub(
                r"{(\w+)}", lambda m, types=types: PATH_VALUES[types[m[1]]], path
            )
            found.append((method.upper(), url))
    return found


OPERATIONS = operations()


def test_every_route_is_in_the_schema():
    """No operation hides from the schema (and so from these tests)."""
    hidden = [
        (sorted(operation.methods), path)
        for _, router in api._routers
        for path, view in router.path_operations.items()
        for operation in view.operations
        if not operation.include_in_schema
    ]
    assert hidden == []
    assert len(OPERATIONS) >= 40


@pytest.fixture
def revoked_token(developer):
    api_token, plaintext = accounts.create_api_token(
        developer, "old", actor=None, source="cli"
    )
    accounts.revoke_api_token(api_token, actor=None, source="cli")
    return plaintext


def call(method, url, authorization=None):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    return Client().generic(
        method, url, data=b"{}", content_type="application/json", **headers
    )


@pytest.mark.parametrize(
    ("method", "url"), OPERATIONS, ids=[" ".join(op) for op in OPERATIONS]
)
def test_every_operation_refuses_a_missing_wrong_or_revoked_token(
    method, url, revoked_token, developer
):
    # The developer's live token exists: a wrong one is not "no token at all".
    accounts.create_api_token(developer, "live", actor=None, source="cli")
    attempts = {
        "no header": None,
        "no token": "Bearer ",
        "made-up token": "Bearer dch_notarealtoken_0123456789abcdef",
        "revoked token": f"Bearer {revoked_token}",
        "another scheme": f"Basic {revoked_token}",
    }
    for what, authorization in attempts.items():
        response = call(method, url, authorization)

        assert response.status_code == 401, (what, response.content)
        assert response["Content-Type"].startswith("application/json"), what
        body = response.json()
        assert set(body) == {"error", "detail"}, (what, body)
        assert body["error"] == "unauthorized", (what, body)
        assert "token" in body["detail"], (what, body)
        assert response["WWW-Authenticate"] == "Bearer", what


@pytest.mark.parametrize(("method", "url"), sorted(PUBLIC))
def test_the_schema_and_its_docs_are_public(method, url):
    response = call(method, url)
    assert response.status_code == 200


def test_a_valid_token_is_let_through_everywhere(developer):
    """The refusals above are about the token: with a good one no operation
    answers 401 (a developer's admin-only calls are 403s, before any work).
    A fresh token for each: DELETE /tokens/{id} may name, and revoke, the
    token it came with."""
    for method, url in OPERATIONS:
        _, token = accounts.create_api_token(developer, "t", actor=None, source="cli")
        response = call(method, url, f"Bearer {token}")
        assert response.status_code != 401, (method, url, response.content)
