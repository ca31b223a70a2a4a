"""Who may call an operation is answered before what they sent is read: a
developer on an admin's operation gets 403 whatever the body and the query,
and another developer's object is a 404 whatever the body and the query
(never a 400 that would describe the input it wants). hosts/api/auth.py makes
these refusals in the operation's auth, which ninja runs before parsing.

The operations come from the OpenAPI schema; ROLE says which are an admin's.
An operation added later and missing from ROLE fails
test_every_operation_has_a_role until someone decides; a path parameter
that is in neither OWNED nor UNOWNED fails likewise."""

import json
import re

import pytest
from django.test import Client
from django.utils import timezone

from hosts.accounts import commands as accounts
from hosts.api import api
from hosts.models import (
    Build,
    BuildHost,
    CleanupItem,
    CleanupPlan,
    Deployment,
    Endpoint,
    PushedImage,
)
from tests.support.world import api_token

pytestmark = [pytest.mark.badinput, pytest.mark.django_db, pytest.mark.timeout(120)]

ADMIN, ANYONE = "admin", "anyone"
# Every operation of the API: an admin's, or anyone's (a developer's own
# objects, or what everyone may read).
ROLE = {
    ("GET", "/api/v1/me"): ANYONE,
    ("GET", "/api/v1/tokens"): ANYONE,
    ("POST", "/api/v1/tokens"): ANYONE,
    ("DELETE", "/api/v1/tokens/{token_id}"): ANYONE,
    ("GET", "/api/v1/notifications"): ANYONE,
    ("GET", "/api/v1/notification-settings"): ANYONE,
    ("PUT", "/api/v1/notification-settings"): ANYONE,
    ("GET", "/api/v1/images"): ANYONE,
    ("GET", "/api/v1/images/{pushed_image_id}"): ANYONE,
    ("DELETE", "/api/v1/images/{pushed_image_id}"): ANYONE,
    ("GET", "/api/v1/endpoints"): ANYONE,
    ("POST", "/api/v1/endpoints"): ADMIN,
    ("GET", "/api/v1/endpoints/{endpoint_id}"): ANYONE,
    ("PUT", "/api/v1/endpoints/{endpoint_id}"): ADMIN,
    ("PATCH", "/api/v1/endpoints/{endpoint_id}"): ADMIN,
    ("POST", "/api/v1/endpoints/{endpoint_id}/probe"): ADMIN,
    ("POST", "/api/v1/endpoints/{endpoint_id}/disable"): ADMIN,
    ("POST", "/api/v1/endpoints/{endpoint_id}/enable"): ADMIN,
    ("GET", "/api/v1/registries"): ANYONE,
    ("POST", "/api/v1/registries"): ADMIN,
    ("GET", "/api/v1/registries/{registry_id}"): ANYONE,
    ("POST", "/api/v1/registries/{registry_id}/check"): ADMIN,
    ("GET", "/api/v1/certificates"): ANYONE,
    ("POST", "/api/v1/certificates"): ADMIN,
    ("GET", "/api/v1/certificate-authority"): ANYONE,
    ("POST", "/api/v1/certificate-authority/rotate"): ADMIN,
    ("GET", "/api/v1/audit-events"): ADMIN,
    ("GET", "/api/v1/build-hosts"): ANYONE,
    ("POST", "/api/v1/build-hosts"): ANYONE,
    ("GET", "/api/v1/build-hosts/{build_host_id}"): ANYONE,
    ("DELETE", "/api/v1/build-hosts/{build_host_id}"): ANYONE,
    ("POST", "/api/v1/build-hosts/{build_host_id}/extend"): ANYONE,
    ("POST", "/api/v1/build-hosts/{build_host_id}/heartbeat"): ANYONE,
    ("POST", "/api/v1/build-hosts/{build_host_id}/resume"): ANYONE,
    ("POST", "/api/v1/build-hosts/{build_host_id}/stop"): ANYONE,
    ("GET", "/api/v1/build-hosts/{build_host_id}/tls-bundle"): ANYONE,
    ("GET", "/api/v1/build-hosts/{build_host_id}/inside"): ANYONE,
    ("POST", "/api/v1/build-hosts/{build_host_id}/trim"): ANYONE,
    ("GET", "/api/v1/build-hosts/{build_host_id}/docker-context"): ANYONE,
    ("POST", "/api/v1/builds"): ANYONE,
    ("GET", "/api/v1/builds"): ANYONE,
    ("GET", "/api/v1/builds/{build_id}"): ANYONE,
    ("GET", "/api/v1/builds/{build_id}/log"): ANYONE,
    ("POST", "/api/v1/builds/{build_id}/cancel"): ANYONE,
    ("GET", "/api/v1/deployments"): ANYONE,
    ("POST", "/api/v1/deployments"): ANYONE,
    ("GET", "/api/v1/deployments/{deployment_id}"): ANYONE,
    ("DELETE", "/api/v1/deployments/{deployment_id}"): ANYONE,
    ("GET", "/api/v1/build-host-images"): ANYONE,
    ("POST", "/api/v1/build-host-images"): ADMIN,
    ("POST", "/api/v1/build-host-images/{image_id}/make-default"): ADMIN,
    ("GET", "/api/v1/volumes"): ANYONE,
    ("POST", "/api/v1/volumes/refresh"): ADMIN,
    ("GET", "/api/v1/volumes/budget"): ANYONE,
    ("POST", "/api/v1/cleanup-plans"): ANYONE,
    ("GET", "/api/v1/cleanup-plans/{plan_id}"): ANYONE,
    ("POST", "/api/v1/cleanup-plans/{plan_id}/execute"): ANYONE,
    ("POST", "/api/v1/cleanup-plans/{plan_id}/items/{item_id}/keep"): ANYONE,
    ("POST", "/api/v1/cleanup-plans/{plan_id}/items/{item_id}/release"): ANYONE,
    ("GET", "/api/v1/webhooks"): ADMIN,
    ("POST", "/api/v1/webhooks"): ADMIN,
    ("GET", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): ADMIN,
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"): ADMIN,
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): ADMIN,
}
# Path parameters that name an object a developer owns; making one for `user`.
OWNED = {
    "build_host_id": lambda user: str(_build_host(user).pk),
    "build_id": lambda user: str(_build(user).pk),
    "deployment_id": lambda user: str(_deployment(user).pk),
    "token_id": lambda user: str(
        accounts.create_api_token(user, "owned", actor=None, source="cli")[0].pk
    ),
    "pushed_image_id": lambda user: str(_pushed_image(user).pk),
    # A plan the developer made; an item (of that plan) on a volume of theirs.
    "plan_id": lambda user: str(_cleanup_plan(user).pk),
    "item_id": lambda user: str(_cleanup_item(user).pk),
}
# Path parameters that name what nobody owns (shared, or an admin's).
UNOWNED = {
    "endpoint_id",
    "registry_id",
    "image_id",
    "webhook_id",
    "delivery_id",
}

# What nobody should be told about before they are let in: a body that is
# not JSON, JSON of the wrong shape, JSON with wrong types, and a query
# string of wrong values.
MALFORMED = {
    "empty body": (b"{}", ""),
    "not JSON": (b'{"name": ', ""),
    "a list": (b"[1, null]", ""),
    "wrong types": (
        json.dumps(
            {"minutes": "soon", "endpoint_id": "x", "name": 5, "scope": 7}
        ).encode(),
        "",
    ),
    "bad query": (b"{}", "?offset=-1&limit=none&state=x&volumes=sometimes"),
}


def schema_operations():
    schema = api.get_openapi_schema()
    return sorted(
        (method.upper(), path)
        for path, methods in schema["paths"].items()
        for method in methods
        if path != "/api/v1/openapi.json"
    )


OPERATIONS = schema_operations()


def path_parameters(path):
    return re.findall(r"{(\w+)}", path)


def test_every_operation_has_a_role():
    missing = sorted(set(OPERATIONS) - set(ROLE))
    stale = sorted(set(ROLE) - set(OPERATIONS))

    assert not missing, (
        f"operations not in ROLE (is each an admin's or anyone's?): {missing}"
    )
    assert not stale, f"ROLE names operations the API no longer has: {stale}"


def test_every_path_parameter_is_known_as_owned_or_not():
    unknown = {
        name
        for _, path in OPERATIONS
        for name in path_parameters(path)
        if name not in OWNED and name not in UNOWNED
    }

    assert not unknown, (
        f"path parameters in neither OWNED nor UNOWNED: {sorted(unknown)}: does a "
        "developer own what they name?"
    )


def call(method, path, token, malformed):
    body, query = MALFORMED[malformed]
    return Client().generic(
        method,
        path + query,
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


def with_ids(path, ids):
    return re.sub(r"{(\w+)}", lambda match: ids[match[1]], path)


# Values of the right type that name no row: refusal must not depend on it.
NO_ROW = {
    name: "7b0c4f4e-2f7e-4a55-9a7e-0f6f3c1d2e3f" if name in OWNED else "4242"
    for name in [*OWNED, *UNOWNED]
}


def cases(operations):
    return [pytest.param(*op, id=" ".join(op)) for op in operations]


ADMIN_OPERATIONS = cases(op for op in OPERATIONS if ROLE.get(op) == ADMIN)
ANYONES_OPERATIONS = cases(op for op in OPERATIONS if ROLE.get(op) == ANYONE)
OWNED_OPERATIONS = cases(
    op for op in OPERATIONS if any(p in OWNED for p in path_parameters(op[1]))
)


def assert_refused(response, status, code, what):
    assert response.status_code == status, (what, response.content)
    body = response.json()
    assert set(body) == {"error", "detail"}, (what, body)
    assert body["error"] == code, (what, body)


@pytest.mark.parametrize(("method", "path"), ADMIN_OPERATIONS)
def test_a_developer_is_refused_an_admins_operation_whatever_they_send(
    method, path, developer
):
    token = api_token(developer)
    for malformed in MALFORMED:
        response = call(method, with_ids(path, NO_ROW), token, malformed)

        assert_refused(response, 403, "forbidden", malformed)


@pytest.mark.parametrize(("method", "path"), ANYONES_OPERATIONS)
def test_anyones_operations_do_not_refuse_a_developer(method, path, developer):
    """ROLE's other half is true too: these are not an admin's."""
    token = api_token(developer)
    for malformed in MALFORMED:
        response = call(method, with_ids(path, NO_ROW), token, malformed)

        assert response.status_code != 403, (malformed, response.content)
        assert response.status_code < 500, (malformed, response.content)


@pytest.mark.parametrize(("method", "path"), OWNED_OPERATIONS)
def test_anothers_object_is_not_found_whatever_they_send(
    method, path, developer, other_developer
):
    ids = {name: make(developer) for name, make in OWNED.items()}
    ids |= {name: NO_ROW[name] for name in UNOWNED}
    stranger = api_token(other_developer)
    for malformed in MALFORMED:
        response = call(method, with_ids(path, ids), stranger, malformed)

        assert_refused(response, 404, "not_found", malformed)

    # The owner's own malformed request is not a 404: the 404 was about whose
    # object it is. (Last, as it may act: revoke, remove, cancel.)
    response = call(method, with_ids(path, ids), api_token(developer), "wrong types")
    assert response.status_code not in (404, 500), response.content


# --- Objects a developer owns ---------------------------------------------------


def _endpoint():
    endpoint, _ = Endpoint.objects.get_or_create(
        name="authz",
        defaults={
            "docker_url": "tcp://127.0.0.1:1",  # refuses at once
            "tls_mode": Endpoint.TlsMode.NONE,
            "publish_host": "127.0.0.1",
        },
    )
    return endpoint


def _build_host(user):
    return BuildHost.objects.create(
        owner=user,
        endpoint=_endpoint(),
        name=f"authz-{BuildHost.objects.count()}",
        image="registry.test:5443/p/i:1",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timezone.timedelta(hours=1),
    )


def _build(user):
    return Build.objects.create(
        owner=user,
        build_host=_build_host(user),
        tags=["127.0.0.1:1/p/app:1"],
        state=Build.State.BUILDING,
    )


def _pushed_image(user):
    return PushedImage.objects.create(
        owner=user,
        reference="127.0.0.1:1/p/app:1",  # refuses at once
        repository="p/app",
        digest="sha256:" + "0" * 64,
    )


def _deployment(user):
    return Deployment.objects.create(
        owner=user, endpoint=_endpoint(), image="127.0.0.1:1/p/app:1"
    )


def _cleanup_plan(user):
    """The user's latest plan (an item's plan is the one the path names),
    sent as a notice so that its items may be answered."""
    plan = CleanupPlan.objects.filter(planned_by=user).first()
    return plan or CleanupPlan.objects.create(
        planned_by=user,
        state=CleanupPlan.State.NOTICE,
        notice_days=1,
        notice_ends_at=timezone.now() + timezone.timedelta(days=1),
        keep_days_allowed=7,
    )


def _cleanup_item(user):
    return CleanupItem.objects.create(
        plan=_cleanup_plan(user),
        endpoint=_endpoint(),
        volume_name=f"authz-{CleanupItem.objects.count()}",
        reason="orphaned",
        owner_name=user.get_username(),
    )
