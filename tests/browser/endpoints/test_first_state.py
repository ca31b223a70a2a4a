"""The first state the pages show, in Chromium: an endpoint nobody has probed
yet says "Checking…" (neutral), not a red "Off"; when the dashboard starts
(its worker is ready) every endpoint is probed and every registry checked at
once, not at the beat's first run; a registry added in the form is checked
right away, and the pages show it without a reload."""

import uuid

import pytest

from dchweb.celery import app
from hosts.models import Endpoint
from tests.conftest import start_celery_worker, stop_process
from tests.support import world
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def health_badge(endpoint_id):
    return f"document.querySelector('#endpoint-{endpoint_id} [data-health]')"


@pytest.fixture
def starting_worker():
    """A worker of this test's own, started when the test says: its start is
    the dashboard's start. Its tasks and what it enqueues stay on its queue."""
    queue = f"dchweb-start-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    started = []
    yield lambda: started.append(start_celery_worker(queue, log_name="start-worker"))
    for process in started:
        stop_process(process)
    app.conf.task_default_queue = previous


def test_an_endpoint_never_probed_says_checking_not_off(live_server, page, admin):
    endpoint = world.unreachable_endpoint(
        "fresh", health=Endpoint.Health.OFF, last_probe_at=None
    )
    sign_in(page, live_server, "root", "root-password-1")

    for path, table in (("/endpoints/", "#endpoint-table"), ("/", "#endpoint-health")):
        page.goto(f"{live_server.url}{path}")
        badge = page.locator(f"{table} .badge[data-health]")
        assert badge.text_content().strip() == "Checking…"
        assert "health-off" not in badge.get_attribute("class")
        assert "Off" not in page.locator(table).inner_text()

    # Once a probe has failed for real, it is off, and says so.
    Endpoint.objects.filter(pk=endpoint.pk).update(
        last_probe_at=endpoint.created_at, consecutive_failures=3
    )
    page.goto(f"{live_server.url}/endpoints/")
    assert page.locator(f"#endpoint-{endpoint.pk} .badge").first.text_content() == "Off"


def test_the_dashboard_starting_probes_endpoints_and_checks_registries(
    live_server, page, admin, devstack, starting_worker
):
    # What `make run` has before its worker starts: rows seeded, none probed.
    endpoint = world.devstack_endpoint(
        devstack, name="local", health=Endpoint.Health.OFF, flavor=""
    )
    registry = world.devstack_registry(devstack)
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/endpoints/")
    assert page.evaluate(f"{health_badge(endpoint.pk)}.textContent") == "Checking…"

    starting_worker()

    # The table polls itself: no click, no reload.
    page.wait_for_function(
        until(f"{health_badge(endpoint.pk)}?.textContent == 'On'"), timeout=45_000
    )
    page.goto(f"{live_server.url}/registries/")
    page.wait_for_function(
        until(
            f"document.querySelector('#registry-{registry.pk} .registry-check')"
            "?.textContent.includes('OK')"
        ),
        timeout=45_000,
    )
    page.wait_for_function(
        until(
            "document.querySelector('#registry-trust')?.textContent"
            ".includes('can pull')"
        ),
        timeout=45_000,
    )
    assert "Checking…" not in page.locator("main").inner_text()


def test_a_registry_added_in_the_form_is_checked_at_once(
    live_server, page, admin, devstack, celery_worker
):
    endpoint = world.devstack_endpoint(devstack)
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/registries/")

    page.click("text=Add a registry")
    page.fill("input[name=name]", "devstack registry")
    page.fill("input[name=address]", devstack["registry"])
    page.fill("textarea[name=ca_pem]", devstack["registry_ca"].decode())
    page.fill("input[name=username]", devstack["registry_user"])
    page.fill("input[name=password]", devstack["registry_password"])
    page.click("button:has-text('Add registry')")

    row = page.locator("#registry-table tr:has-text('devstack registry')")
    row.wait_for()
    page.wait_for_function(
        until(
            "[...document.querySelectorAll('#registry-table tr')].some(row =>"
            " row.textContent.includes('devstack registry')"
            " && row.querySelector('.registry-check .health-on'))"
        ),
        timeout=45_000,
    )
    # The trust matrix was checked too: shown on the page's next visit.
    page.reload()
    page.wait_for_function(
        until(
            "document.querySelector('#registry-trust')?.textContent"
            ".includes('can pull')"
        ),
        timeout=45_000,
    )
    assert endpoint.name in page.locator("#registry-trust").inner_text()
