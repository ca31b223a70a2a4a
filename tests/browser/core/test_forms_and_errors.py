"""Forms and error pages as a newcomer meets them, in Chromium (issue 15,
problems 1, 2 and 8's Remove):

- a create form double-clicked sends one POST and makes one object, and two
  POSTs of one form that get through anyway still make one;
- with DEBUG on, as `make run` has it: a form the server refuses shows its
  reasons inside the form, on a page that keeps its navigation; an unknown
  URL is the project's 404 page, also to a visitor not signed in, with no
  list of URL patterns;
- a deployment's Remove asks first.
"""

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from hosts.models import (
    Build,
    BuildHost,
    Certificate,
    Deployment,
    Endpoint,
)
from tests.support import world
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

IMAGE = "registry.test:5443/default-project/dch-photon:20.10"
DIGEST = "sha256:" + "ab" * 32
URL_LIST = "Using the URLconf"


@pytest.fixture
def debug(settings):
    """`make run`'s settings: DEBUG on, Django's own error pages not asked for."""
    settings.DEBUG = True
    settings.DCHWEB_DEBUG_PAGES = False
    return settings


@pytest.fixture
def no_queue():
    """Nothing is handed to a worker: a created host stays pending, a removed
    deployment stays 'removing'. The live server runs in this process."""
    with (
        mock.patch("hosts.buildhosts.tasks.provision_build_host.delay"),
        mock.patch("hosts.deployments.tasks.remove_deployment.delay"),
    ):
        yield


@pytest.fixture
def local_endpoint():
    """An endpoint whose engine does not answer: the cap counts the rows."""
    return world.unreachable_endpoint(default_image=IMAGE)


class Posts:
    """The POSTs the page sends to one path."""

    def __init__(self, page, path):
        self.sent = []
        page.on(
            "request",
            lambda request: (
                self.sent.append(request.url)
                if request.method == "POST" and request.url.endswith(path)
                else None
            ),
        )


# --- Problem 1: sent twice, one object --------------------------------------------


def test_double_clicking_create_sends_one_post_and_makes_one_build_host(
    live_server, page, developer, local_endpoint, no_queue
):
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/")
    posts = Posts(page, "/build-hosts/")
    page.click("text=New build host")
    page.select_option("select[name=endpoint]", str(local_endpoint.pk))
    page.fill("input[name=name]", "double-clicked")

    page.dblclick("button:has-text('Create build host')")

    page.wait_for_url(f"{live_server.url}/build-hosts/*-*/")
    page.wait_for_load_state("networkidle")
    host = BuildHost.objects.get()
    assert host.name == "double-clicked"
    assert page.url == f"{live_server.url}/build-hosts/{host.pk}/"
    assert len(posts.sent) == 1


def test_two_posts_of_one_form_that_get_through_make_one_build_host(
    live_server, page, developer, local_endpoint, no_queue
):
    """The server's part: the form's one-time key, on the real cache. Both
    POSTs leave the page at once (not through its buttons), and both are
    answered with the one host."""
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/")
    page.click("text=New build host")
    page.select_option("select[name=endpoint]", str(local_endpoint.pk))
    page.fill("input[name=name]", "sent-twice")

    answers = page.evaluate(
        """async () => {
          const form = document.querySelector('#build-host-create form');
          const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
          const send = () => fetch(form.action, {
            method: 'POST', body: new FormData(form),
            headers: {'HX-Request': 'true', 'X-CSRFToken': token},
          }).then((response) => [response.status, response.headers.get('HX-Redirect')]);
          return Promise.all([send(), send()]);
        }"""
    )

    host = BuildHost.objects.get()
    assert answers == [[200, f"/build-hosts/{host.pk}/"]] * 2


def test_an_endpoint_form_double_clicked_makes_one_endpoint_and_shows_no_error(
    live_server, page, admin
):
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/endpoints/")
    posts = Posts(page, "/endpoints/")
    page.click("text=Register an endpoint")
    page.fill("input[name=name]", "double-clicked")
    page.fill("input[name=docker_url]", "unix:///nonexistent/double.sock")
    page.select_option("select[name=tls_mode]", "none")
    page.fill("input[name=publish_host]", "127.0.0.1")

    page.dblclick("button:has-text('Register endpoint')")

    page.wait_for_selector("#endpoint-table tr:has-text('double-clicked')")
    page.wait_for_load_state("networkidle")
    assert Endpoint.objects.filter(name="double-clicked").count() == 1
    assert len(posts.sent) == 1
    assert page.locator("#endpoint-create .error-text").count() == 0


# --- Problem 2: DEBUG on, no debug page, no unstyled fragment ----------------------


def assert_reason_inside_the_form(page, holder, words):
    """The reason shows inside the form's holder, and the page around it is
    still the dashboard (navigation, title), not a bare fragment."""
    reason = page.locator(f"{holder} form .error-text", has_text=words or None)
    reason.first.wait_for()
    assert page.locator("header.topbar nav").is_visible()
    assert page.evaluate("window.dchwebMarker") == "still here"


def test_a_refused_build_host_form_shows_its_reason_inside_it(
    debug, live_server, page, developer, local_endpoint, no_queue
):
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/build-hosts/")
    page.evaluate("window.dchwebMarker = 'still here'")
    page.click("text=New build host")
    page.select_option("select[name=endpoint]", str(local_endpoint.pk))
    page.fill("input[name=name]", "refused")
    # The endpoint is disabled after the form was drawn: the server refuses.
    Endpoint.objects.filter(pk=local_endpoint.pk).update(
        health=Endpoint.Health.DISABLED
    )

    page.click("button:has-text('Create build host')")

    # (Whatever the words: the form says the endpoint cannot be chosen.)
    assert_reason_inside_the_form(page, "#build-host-create", "")
    assert not BuildHost.objects.exists()


def test_a_refused_endpoint_form_shows_its_reason_inside_it(
    debug, live_server, page, admin
):
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/endpoints/")
    page.evaluate("window.dchwebMarker = 'still here'")
    page.click("text=Register an endpoint")
    page.fill("input[name=name]", "refused")
    page.fill("input[name=docker_url]", "http://engine:2375")
    page.select_option("select[name=tls_mode]", "none")

    page.click("button:has-text('Register endpoint')")

    assert_reason_inside_the_form(page, "#endpoint-create", "tcp://")
    assert not Endpoint.objects.filter(name="refused").exists()


def test_a_refused_certificate_form_shows_its_reason_inside_it(
    debug, live_server, page, admin
):
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/certificates/")
    page.evaluate("window.dchwebMarker = 'still here'")
    page.click("text=Add a certificate")
    page.fill("input[name=name]", "refused")
    page.fill("textarea[name=pem]", "hello")

    page.click("button:has-text('Add certificate')")

    assert_reason_inside_the_form(page, "#certificate-panel", "PEM")
    assert not Certificate.objects.filter(name="refused").exists()


def test_an_unknown_url_is_the_project_s_404_to_a_visitor_not_signed_in(
    debug, live_server, page
):
    response = page.goto(f"{live_server.url}/no-such-page/")

    assert response.status == 404
    assert page.locator("h1").text_content() == "Not found"
    assert URL_LIST not in page.content()
    # Styled by the dashboard's stylesheet, under its security policy.
    assert "content-security-policy" in response.headers
    assert page.evaluate(
        "[...document.styleSheets].some((sheet) => sheet.href?.endsWith('dchweb.css'))"
    )
    page.click("text=Back to the dashboard")
    page.wait_for_url(f"{live_server.url}/accounts/login/**")


def test_an_unknown_url_is_the_project_s_404_when_signed_in(
    debug, live_server, page, developer
):
    sign_in(page, live_server, "alice", "alice-password-1")

    response = page.goto(f"{live_server.url}/build-hosts/not-a-host/")

    assert response.status == 404
    assert page.locator("h1").text_content() == "Not found"
    assert URL_LIST not in page.content()
    assert page.locator("header.topbar nav").is_visible()


# --- Problem 8: a deployment's Remove asks first -----------------------------------


@pytest.fixture
def deployed(developer, local_endpoint):
    build = Build.objects.create(
        owner=developer,
        state=Build.State.SUCCEEDED,
        tags=["registry.test:5443/default-project/hello:1"],
        digest=DIGEST,
        push=True,
        finished_at=timezone.now() - timedelta(minutes=1),
    )
    deployment = Deployment.objects.create(
        owner=developer,
        endpoint=local_endpoint,
        image=f"registry.test:5443/default-project/hello@{DIGEST}",
        state=Deployment.State.EXITED,
        exit_code=0,
    )
    return build, deployment


def test_a_deployment_s_remove_asks_first(
    live_server, page, developer, deployed, no_queue
):
    build, deployment = deployed
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/builds/{build.pk}/")
    posts = Posts(page, "/remove")
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    remove = page.locator(f"#deployment-{deployment.pk} button:has-text('Remove')")

    page.once("dialog", lambda dialog: answer(dialog, accept=False))
    remove.click()
    page.wait_for_load_state("networkidle")
    deployment.refresh_from_db()
    assert deployment.state == Deployment.State.EXITED
    assert posts.sent == []

    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    remove.click()
    page.wait_for_selector(f"#deployment-{deployment.pk}[data-state=removing]")
    deployment.refresh_from_db()
    assert deployment.state == Deployment.State.REMOVING
    assert len(posts.sent) == 1
    assert len(questions) == 2
    assert deployment.container_name in questions[0]


# --- A form that stays on the page: each new submission is one ---------------------


@pytest.fixture
def orphaned_volumes(local_endpoint):
    from hosts.core import installation
    from hosts.models import Volume

    def orphaned(name, owner):
        return Volume.objects.create(
            endpoint=local_endpoint,
            name=name,
            status=Volume.Status.ORPHANED,
            managed=True,
            installation=installation.installation_id(),
            owner_name=owner,
            role="docker-data",
            size_bytes=1024,
            detached_since=timezone.now() - timedelta(days=1),
        )

    return [orphaned("vol-alice", "alice"), orphaned("vol-bob", "bob")]


def test_plan_by_rule_double_clicked_is_one_plan_and_the_next_rule_another(
    live_server, page, admin, orphaned_volumes
):
    """The rule's form is not replaced by its answer: after a plan is made its
    one-time key is renewed on the page, so the next plan is a new one."""
    from hosts.models import CleanupPlan

    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/volumes/")
    posts = Posts(page, "/volumes/plans/")
    plan_by_rule = "#volume-filters button:has-text('Plan by rule')"

    page.dblclick(plan_by_rule)

    page.wait_for_selector("#cleanup-plan[data-state=draft]")
    page.wait_for_load_state("networkidle")
    assert page.inner_text("#cleanup-plan .plan-count") == "2"
    assert CleanupPlan.objects.count() == 1
    assert len(posts.sent) == 1

    page.fill("#volume-filters input[name=owner]", "alice")
    page.wait_for_url(f"{live_server.url}/volumes/?*owner=alice*")
    page.click(plan_by_rule)

    page.wait_for_function(
        until("document.querySelector('#cleanup-plan .plan-count')?.textContent == '1'")
    )
    assert CleanupPlan.objects.count() == 2
