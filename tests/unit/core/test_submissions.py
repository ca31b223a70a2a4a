"""A create form sent twice makes one object (hosts/web/submissions.py): the
second POST with the form's one-time key answers with what the first made.

The keys' cache is a process's memory here (no Redis in unit tests); the
browser test (tests/browser/core/test_forms_and_errors.py) runs on the real one.
"""

import re
import threading
import time
from unittest import mock

import pytest
from django.db import connection

from hosts.models import BuildHost, Certificate, Endpoint, Registry
from hosts.web import submissions
from hosts.web.submissions import SUBMISSION_FIELD, SentBefore, once
from tests.support import pki, world

HTMX = {"HTTP_HX_REQUEST": "true"}
KEY_INPUT = re.compile(r'<input type="hidden" name="submission_key" value="([^"]+)">')


@pytest.fixture(autouse=True)
def keys_in_memory(settings):
    settings.CACHES = {
        **settings.CACHES,
        "submissions": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "test-submissions",
        },
    }


def a_key():
    return submissions.new_submission_key()


# --- once() -----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_key_sent_twice_runs_the_action_once_and_answers_the_first_object(
    developer,
):
    calls = []

    def make():
        calls.append(1)
        return world.unreachable_endpoint(name=f"made-{len(calls)}")

    data = {SUBMISSION_FIELD: a_key()}

    first = once(data, make)
    second = once(data, make)

    assert len(calls) == 1
    assert second == first
    assert Endpoint.objects.count() == 1


@pytest.mark.django_db
def test_without_a_key_or_with_a_malformed_one_every_post_runs():
    made = []

    def make():
        made.append(world.unreachable_endpoint(name=f"made-{len(made)}"))
        return made[-1]

    once({}, make)
    once({}, make)
    once({SUBMISSION_FIELD: "short"}, make)
    once({SUBMISSION_FIELD: "short"}, make)

    assert Endpoint.objects.count() == 4


@pytest.mark.django_db
def test_two_keys_are_two_submissions():
    names = iter(["one", "two"])

    def make():
        return world.unreachable_endpoint(name=next(names))

    once({SUBMISSION_FIELD: a_key()}, make)
    once({SUBMISSION_FIELD: a_key()}, make)

    assert Endpoint.objects.count() == 2


@pytest.mark.django_db
def test_a_refused_first_post_releases_the_key():
    data = {SUBMISSION_FIELD: a_key()}

    def refuse():
        raise ValueError("refused")

    with pytest.raises(ValueError):
        once(data, refuse)
    made = once(data, lambda: world.unreachable_endpoint(name="second-try"))

    assert made.name == "second-try"


@pytest.mark.django_db
def test_what_the_first_made_is_gone_since_is_said_in_words():
    data = {SUBMISSION_FIELD: a_key()}
    once(data, lambda: world.unreachable_endpoint(name="gone")).delete()

    with pytest.raises(SentBefore, match="reload the page to send it again"):
        once(data, lambda: world.unreachable_endpoint(name="again"))


@pytest.mark.django_db
def test_a_cache_that_does_not_answer_costs_the_protection_not_the_form(settings):
    settings.CACHES = {
        **settings.CACHES,
        "submissions": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "unix:///nonexistent/redis.sock",
        },
    }

    made = once(
        {SUBMISSION_FIELD: a_key()}, lambda: world.unreachable_endpoint(name="x")
    )

    assert made.name == "x"


@pytest.mark.django_db(transaction=True)
def test_a_repeat_that_arrives_while_the_first_runs_waits_for_its_result():
    data = {SUBMISSION_FIELD: a_key()}
    started = threading.Event()
    calls = []
    answers = {}

    def slow_make():
        calls.append(1)
        started.set()
        time.sleep(0.5)
        return world.unreachable_endpoint(name="slow")

    def first():
        try:
            answers["first"] = once(data, slow_make)
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(10)
    answers["second"] = once(data, slow_make)
    thread.join(10)

    assert len(calls) == 1
    assert answers["second"] == answers["first"]
    assert Endpoint.objects.count() == 1


# --- The forms ----------------------------------------------------------------------


def key_in(response) -> str:
    found = KEY_INPUT.search(response.content.decode())
    assert found, "the form carries no submission key"
    return found.group(1)


@pytest.fixture
def stubbed_engine():
    """No engine to count hosts on and no queue: the database's rows count."""
    from hosts import engine

    def unreachable(connection, installation_id):
        raise engine.EngineUnreachable("no engine in unit tests")

    with (
        mock.patch("hosts.engine.list_managed_containers", side_effect=unreachable),
        mock.patch("hosts.buildhosts.tasks.provision_build_host.delay"),
    ):
        yield


@pytest.mark.django_db
def test_the_build_host_form_sent_twice_makes_one_host_and_both_open_it(
    client, developer, stubbed_engine
):
    endpoint = world.unreachable_endpoint(default_image="registry.test:5443/p/i:1")
    client.force_login(developer)
    key = key_in(client.get("/build-hosts/"))
    data = {
        "endpoint": endpoint.pk,
        "name": "twice",
        "disk_gb": "20",
        "ttl_minutes": "60",
        "volume_policy": "delete",
        SUBMISSION_FIELD: key,
    }

    first = client.post("/build-hosts/", data, **HTMX)
    second = client.post("/build-hosts/", data, **HTMX)

    host = BuildHost.objects.get()
    assert first["HX-Redirect"] == f"/build-hosts/{host.pk}/"
    assert second["HX-Redirect"] == first["HX-Redirect"]


@pytest.mark.django_db
def test_the_build_host_form_keeps_one_host_when_the_keys_cache_is_down(
    client, developer, stubbed_engine, settings
):
    """The database's idempotency key is the second line: a cache that does
    not answer lets both POSTs through, and still one host is made."""
    settings.CACHES = {
        **settings.CACHES,
        "submissions": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "unix:///nonexistent/redis.sock",
        },
    }
    endpoint = world.unreachable_endpoint(default_image="registry.test:5443/p/i:1")
    client.force_login(developer)
    data = {
        "endpoint": endpoint.pk,
        "name": "twice",
        "disk_gb": "20",
        "ttl_minutes": "60",
        "volume_policy": "delete",
        SUBMISSION_FIELD: a_key(),
    }

    client.post("/build-hosts/", data, **HTMX)
    client.post("/build-hosts/", data, **HTMX)

    assert BuildHost.objects.count() == 1


@pytest.mark.django_db
def test_the_endpoint_form_sent_twice_makes_one_endpoint_and_no_error(client, admin):
    client.force_login(admin)
    key = key_in(client.get("/endpoints/"))
    data = {
        "name": "twice",
        "docker_url": "unix:///nonexistent/twice.sock",
        "tls_mode": "none",
        "publish_host": "127.0.0.1",
        "volume_store": "default",
        "max_build_hosts": "10",
        SUBMISSION_FIELD: key,
    }

    first = client.post("/endpoints/", data, **HTMX)
    second = client.post("/endpoints/", data, **HTMX)

    assert Endpoint.objects.filter(name="twice").count() == 1
    assert first.status_code == second.status_code == 200
    assert "already" not in second.content.decode()
    # The blank form that comes back is a new submission.
    assert key_in(second) != key


@pytest.mark.django_db
def test_the_certificate_form_sent_twice_makes_one_certificate(client, admin):
    client.force_login(admin)
    key = key_in(client.get("/certificates/"))
    data = {
        "name": "twice",
        "pem": pki.make_ca().cert_pem.decode(),
        SUBMISSION_FIELD: key,
    }

    first = client.post("/certificates/", data, **HTMX)
    second = client.post("/certificates/", data, **HTMX)

    assert Certificate.objects.filter(name="twice").count() == 1
    assert first.status_code == second.status_code == 200


@pytest.mark.django_db
def test_the_registry_form_sent_twice_makes_one_registry(client, admin):
    client.force_login(admin)
    key = key_in(client.get("/registries/"))
    data = {
        "name": "twice",
        "address": "registry.example:5000",
        "project": "p",
        SUBMISSION_FIELD: key,
    }

    first = client.post("/registries/", data, **HTMX)
    second = client.post("/registries/", data, **HTMX)

    assert first.status_code == 200, first.content.decode()
    assert Registry.objects.filter(name="twice").count() == 1
    assert second.status_code == 200
