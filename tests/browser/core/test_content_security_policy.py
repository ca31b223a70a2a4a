"""Every page under the Content-Security-Policy in Chromium: nothing is
refused (no inline script or style, no eval), and a refused form still comes
back with its reason through static/js/dchweb.js (data-swap-statuses), where
an hx-on handler used to let it through."""

from datetime import timedelta

import pytest
from django.utils import timezone

from hosts.models import BuildHost, Endpoint
from tests.support.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs in every document before its own scripts: the browser's report of each
# refusal, whatever the console says.
RECORD_VIOLATIONS = """
window.dchwebViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  const where = `${event.sourceFile}:${event.lineNumber}`;
  window.dchwebViolations.push(
    `${event.violatedDirective} ${event.blockedURI} at ${where}`);
});
"""

DEVELOPER_PAGES = [
    "/",
    "/build-hosts/",
    "/builds/",
    "/endpoints/",
    "/registries/",
    "/certificates/",
]
ADMIN_PAGES = [*DEVELOPER_PAGES, "/build-host-images/", "/volumes/", "/audit/"]
DJANGO_ADMIN_PAGES = [
    "/admin/",
    "/admin/hosts/endpoint/",
    "/admin/hosts/endpoint/add/",
    "/admin/auth/user/",
    "/admin/hosts/apitoken/",
]


class Watched:
    """A page whose CSP refusals and script errors are kept, per document and
    from the console."""

    def __init__(self, page, live_server):
        self.page = page
        self.base = live_server.url
        self.problems = []
        page.add_init_script(RECORD_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def _console(self, message):
        text = message.text
        if "Content Security Policy" in text or "evalDisallowed" in text:
            self.problems.append(f"console: {text}")

    def visit(self, path):
        response = self.page.goto(f"{self.base}{path}")
        assert response.status == 200, path
        assert "content-security-policy" in response.headers, path
        # Violations are reported asynchronously; give htmx's start-up a moment.
        self.page.wait_for_timeout(300)
        self.collect(path)

    def collect(self, where):
        for violation in self.page.evaluate("window.dchwebViolations || []"):
            self.problems.append(f"{where}: {violation}")


@pytest.fixture
def watched(page, live_server):
    return Watched(page, live_server)


def test_the_login_page_and_the_api_docs_break_no_rule(watched):
    watched.visit("/accounts/login/")
    watched.visit("/api/v1/docs")
    # Swagger UI drew itself from its static files.
    watched.page.wait_for_selector(".swagger-ui .information-container")
    watched.collect("/api/v1/docs, drawn")

    assert watched.problems == []


def test_a_developer_s_pages_and_a_build_host_page_break_no_rule(
    watched, live_server, developer
):
    endpoint = Endpoint.objects.create(
        name="local",
        docker_url="unix:///nowhere.sock",
        tls_mode="none",
        health=Endpoint.Health.ON,
        default_image="x",
    )
    host = BuildHost.objects.create(
        owner=developer,
        endpoint=endpoint,
        name="bh-alice",
        image="x",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timedelta(hours=8),
    )
    sign_in(watched.page, live_server, "alice", "alice-password-1")

    for path in [*DEVELOPER_PAGES, f"/build-hosts/{host.pk}/"]:
        watched.visit(path)

    assert watched.problems == []


def test_an_admin_s_pages_break_no_rule(watched, live_server, admin):
    sign_in(watched.page, live_server, "root", "root-password-1")

    for path in ADMIN_PAGES:
        watched.visit(path)

    assert watched.problems == []


def test_the_django_admin_breaks_no_rule(watched, live_server, django_user_model):
    django_user_model.objects.create_superuser("boss", password="boss-password-1")
    sign_in(watched.page, live_server, "boss", "boss-password-1")

    for path in DJANGO_ADMIN_PAGES:
        watched.visit(path)
    # The admin's own scripts ran: actions.js counts the selected rows.
    watched.visit("/admin/auth/user/")
    watched.page.check("#action-toggle")
    watched.page.wait_for_selector(".action-counter:has-text('1 of 1 selected')")
    watched.collect("/admin/auth/user/, all selected")

    assert watched.problems == []


def test_a_refused_endpoint_form_comes_back_with_its_reason(
    watched, live_server, admin
):
    sign_in(watched.page, live_server, "root", "root-password-1")
    watched.visit("/endpoints/")
    page = watched.page
    page.evaluate("window.dchwebMarker = 'still here'")

    page.click("text=Register an endpoint")
    page.fill("input[name=name]", "broken")
    page.fill("input[name=docker_url]", "tcp://no-port")
    page.select_option("select[name=tls_mode]", "none")
    page.fill("input[name=publish_host]", "127.0.0.1")
    page.click("button:has-text('Register endpoint')")

    # The 400 swapped into the form: the reason beside the field, the page intact.
    page.wait_for_selector("#endpoint-create form .error-text:has-text('port')")
    assert page.locator("#endpoint-create details[open]").count() == 1
    assert page.locator("header.topbar nav").is_visible()
    assert page.evaluate("window.dchwebMarker") == "still here"
    assert not Endpoint.objects.filter(name="broken").exists()
    watched.collect("/endpoints/ after the refusal")
    assert watched.problems == []


def test_a_409_on_the_build_host_form_comes_back_with_its_reason(
    watched, live_server, developer, other_developer
):
    endpoint = Endpoint.objects.create(
        name="full",
        docker_url="unix:///nowhere.sock",
        tls_mode="none",
        health=Endpoint.Health.ON,
        default_image="x",
        max_build_hosts=1,
    )
    BuildHost.objects.create(
        owner=other_developer,
        endpoint=endpoint,
        name="bh-bob",
        image="x",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timedelta(hours=8),
    )
    sign_in(watched.page, live_server, "alice", "alice-password-1")
    watched.visit("/build-hosts/")
    page = watched.page

    page.click("text=New build host")
    page.click("button:has-text('Create build host')")

    page.wait_for_selector(
        "#build-host-create form .form-errors:has-text('already runs')"
    )
    assert page.locator("header.topbar nav").is_visible()
    assert not BuildHost.objects.filter(owner=developer).exists()
    watched.collect("/build-hosts/ after the 409")
    assert watched.problems == []
