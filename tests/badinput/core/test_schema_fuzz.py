"""The OpenAPI schema fuzzed with schemathesis against a running server
(pytest-django's live_server, on the test database), as an admin and as a
developer, with data that fits the schema and with data that does not: no
5xx, and every answer is one the schema declares (status code, content type,
body). Then again with a read-only token (every write a declared 403), an
expired one (every operation a 401), and as a developer whom the devstack's
directory signed in (an LDAP user: a Django user made at first sign-in, with
no password of its own).

Each operation runs with fuzzed path parameters (mostly unknown ids) and, when
it has any, again with the ids of real rows the user may see, so the code
behind the lookup is fuzzed too.

Bounded: a fixed number of examples per operation, no shrinking, derandomized
(the same cases every run), a timeout per request and pytest-timeout over the
whole. Nothing is excluded: requests that enqueue work (probe, remove, build,
refresh, clean-up) only enqueue, to the test's own queue that no worker
listens on (conftest.throwaway_queue); engines and registries are on port 1,
which refuses at once.

schemathesis's own pytest integration (`from_fixture`) does not run on
pytest 9, so the operations are driven here through its Python API.
"""

import pytest
import schemathesis
from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from hosts.accounts import commands as accounts
from hosts.builds import logs as buildlogs
from hosts.models import (
    ApiToken,
    Build,
    BuildHost,
    BuildHostImage,
    CleanupItem,
    CleanupPlan,
    Deployment,
    Endpoint,
    Notification,
    PushedImage,
    Registry,
    Webhook,
    WebhookDelivery,
)
from hosts.registries import trust as registry_checks
from tests.support.directory import devstack_directory
from tests.support.world import api_token

pytestmark = [
    pytest.mark.badinput,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(180),
]

# Some sixty operations, each twice when its path names a row: 15 cases
# each (plus the schema's own examples) reach every declared answer and keep
# a run under a minute.
EXAMPLES_PER_OPERATION = 15
# A token refused before its request is read (expired), or one whose refusal
# depends on the method alone (read-only): fewer cases reach every answer.
EXAMPLES_FOR_A_REFUSED_TOKEN = 8
TIMEOUT = 15  # seconds, per request
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
    print_blob=False,
)


@pytest.fixture
def api_schema(live_server, monkeypatch):
    # A fuzzed registry address is checked for real: fail fast, not in 10 s.
    monkeypatch.setattr(registry_checks, "CHECK_TIMEOUT_SECONDS", 2)
    return schemathesis.openapi.from_url(
        f"{live_server.url}/api/v1/openapi.json", timeout=30
    )


def move_id_sequences_past_given_ids(*models):
    """Rows made with pk=1 (so fuzzed small ids hit them) do not move
    PostgreSQL's id sequences: the next row the API makes would get id 1 too.
    (SQLite has nothing to reset.)"""
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), models):
            cursor.execute(statement)


def real_rows(user):
    """One row of each kind an operation's path can name, seen by `user`;
    {path parameter: id}."""
    endpoint = Endpoint.objects.create(
        pk=1,
        name="fuzz",
        docker_url="tcp://127.0.0.1:1",
        tls_mode=Endpoint.TlsMode.NONE,
        publish_host="127.0.0.1",
    )
    registry = Registry.objects.create(pk=1, name="fuzz", address="127.0.0.1:1")
    host = BuildHost.objects.create(
        owner=user,
        endpoint=endpoint,
        name="fuzz",
        image="registry.test:5443/p/i:1",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timezone.timedelta(hours=1),
        # A heartbeat lease: POST .../heartbeat is fuzzed past its 409.
        lease_seconds=3600,
        lease_expires_at=timezone.now() + timezone.timedelta(hours=1),
    )
    build = Build.objects.create(
        owner=user,
        build_host=host,
        registry=registry,
        tags=["127.0.0.1:1/p/app:1"],
        state=Build.State.BUILDING,
    )
    buildlogs.append(build.pk, "step 1/1 : FROM scratch\n")
    deployment = Deployment.objects.create(
        owner=user, endpoint=endpoint, image="127.0.0.1:1/p/app:1"
    )
    # Sent as a notice: its item may be answered (keep / release).
    plan = CleanupPlan.objects.create(
        pk=1,
        planned_by=user,
        rule={},
        state=CleanupPlan.State.NOTICE,
        notice_days=1,
        notice_ends_at=timezone.now() + timezone.timedelta(days=1),
        keep_days_allowed=7,
    )
    item = CleanupItem.objects.create(
        plan=plan,
        endpoint=endpoint,
        volume_name="fuzz",
        reason="orphaned",
        owner_name=user.get_username(),
    )
    image = BuildHostImage.objects.create(
        pk=1, ref="127.0.0.1:1/p/dch:1", base_image="x", created_by=user
    )
    image.registries.add(registry)
    move_id_sequences_past_given_ids(Endpoint, Registry, CleanupPlan, BuildHostImage)
    # Not the token the run calls with: revoking this one leaves the run going.
    spare_token, _ = accounts.create_api_token(user, "spare", actor=None, source="cli")
    pushed = PushedImage.objects.create(
        owner=user,
        registry=registry,
        reference="127.0.0.1:1/p/app:1",  # refuses at once
        repository="p/app",
        digest="sha256:" + "0" * 64,
    )
    return {
        "token_id": spare_token.pk,
        "endpoint_id": endpoint.pk,
        "registry_id": registry.pk,
        "build_host_id": str(host.pk),
        "build_id": str(build.pk),
        "deployment_id": str(deployment.pk),
        "plan_id": plan.pk,
        "item_id": item.pk,
        "image_id": image.pk,
        "pushed_image_id": pushed.pk,
        **webhook_rows(),
    }


def webhook_rows():
    """A webhook (on port 1: a redelivery only enqueues) and a delivery."""
    webhook = Webhook(
        pk=1, name="fuzz", url="http://127.0.0.1:1/", events=["endpoint.on"]
    )
    webhook.set_secret("fuzz-secret-of-16-chars")
    webhook.save()
    move_id_sequences_past_given_ids(Webhook)
    notification = Notification.objects.create(event="endpoint.on")
    delivery = WebhookDelivery.objects.create(
        webhook=webhook, notification=notification
    )
    return {"webhook_id": webhook.pk, "delivery_id": str(delivery.pk)}


def fuzz(schema, headers, mode, ids, examples=EXAMPLES_PER_OPERATION):
    """Every operation, `examples` cases each (twice when its path names a
    row); the failures of all of them, not only the first."""
    failures, operations = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        names = [parameter.name for parameter in operation.path_parameters]
        variants = [None]
        if names:
            variants.append({name: ids[name] for name in names})
        for path_parameters in variants:
            strategy = operation.as_strategy(
                generation_mode=mode, path_parameters=path_parameters
            )

            @settings(FUZZ_SETTINGS, max_examples=examples)
            @given(case=strategy)
            def run(case):
                case.call_and_validate(headers=headers, checks=CHECKS, timeout=TIMEOUT)

            try:
                run()
            # schemathesis reports through a BaseExceptionGroup: one
            # operation's failures are noted and the others still run.
            except (Exception, BaseExceptionGroup) as error:
                where = "real ids" if path_parameters else "fuzzed ids"
                failures.append(f"{operation.label} ({where}):\n{error}")
    return operations, failures


# The admin reaches every operation: on PostgreSQL (column lengths, NUL
# bytes) the admin's runs are enough; the developer's run once per CI run.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(
    "role", ["admin", pytest.param("developer", marks=pytest.mark.once)]
)
def test_the_api_answers_as_its_schema_says(api_schema, request, role, mode):
    user = request.getfixturevalue(role)
    ids = real_rows(user)
    headers = {"Authorization": f"Bearer {api_token(user)}"}

    operations, failures = fuzz(api_schema, headers, mode, ids)

    assert operations >= 40, "the schema lost operations, or did not load"
    assert not failures, "\n\n".join(failures)


def token_of_kind(user, kind):
    """A read-only token, or one that expired a minute ago."""
    api_token, plaintext = accounts.create_api_token(
        user,
        kind,
        actor=None,
        source="cli",
        scope="read" if kind == "read" else "write",
    )
    if kind == "expired":
        ApiToken.objects.filter(pk=api_token.pk).update(
            expires_at=timezone.now() - timezone.timedelta(minutes=1)
        )
    return plaintext


# An admin's read token reaches every read (admins' too) and is refused every
# write; an expired token is refused before the input matters, so one mode is
# enough for it. Tokens are refused before any query that differs between
# databases: once per CI run.
@pytest.mark.once
@pytest.mark.parametrize(
    ("kind", "mode"),
    [
        ("read", GenerationMode.POSITIVE),
        ("read", GenerationMode.NEGATIVE),
        ("expired", GenerationMode.NEGATIVE),
    ],
)
def test_a_read_only_or_expired_token_gets_declared_answers(
    api_schema, admin, kind, mode
):
    ids = real_rows(admin)
    headers = {"Authorization": f"Bearer {token_of_kind(admin, kind)}"}

    operations, failures = fuzz(
        api_schema, headers, mode, ids, examples=EXAMPLES_FOR_A_REFUSED_TOKEN
    )

    assert operations >= 40, "the schema lost operations, or did not load"
    assert not failures, "\n\n".join(failures)


@pytest.fixture
def ldap_developer(client):
    """A developer as the directory makes one: signed in through the login
    page with the directory's password, so the sign-in made the user and
    its groups."""
    directory = devstack_directory()
    username, password = directory.person_only_in("developers")
    response = client.post(
        "/accounts/login/", {"username": username, "password": password}
    )
    assert response.status_code == 302, "the directory's developer did not sign in"
    user = get_user_model().objects.get(username=username)
    assert not user.has_usable_password(), "not a user the directory made"
    return user


# The directory only makes the user: once per CI run.
@pytest.mark.once
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_answers_as_its_schema_says_to_a_directory_user(
    api_schema, ldap_developer, mode
):
    ids = real_rows(ldap_developer)
    headers = {"Authorization": f"Bearer {api_token(ldap_developer)}"}

    # The same answers as the developer's runs above, for a user the
    # directory made: half their cases reach each operation's code.
    operations, failures = fuzz(
        api_schema, headers, mode, ids, examples=EXAMPLES_PER_OPERATION // 2
    )

    assert operations >= 40, "the schema lost operations, or did not load"
    assert not failures, "\n\n".join(failures)
