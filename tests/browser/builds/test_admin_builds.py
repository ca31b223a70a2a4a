"""/builds/ in Chromium: an admin sees everyone's builds and filters them
by owner and state, or searches them, in place; a developer sees their own
only (no owner filter), filters by state and searches. At 390 px nothing
scrolls sideways."""

import pytest

from hosts.models import Build
from tests.support.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def make_build(owner, tag, state):
    return Build.objects.create(
        owner=owner, tags=[f"registry.test:5443/default-project/{tag}"], state=state
    )


@pytest.fixture
def builds(developer, other_developer):
    return {
        "alice_ok": make_build(developer, "web:1", Build.State.SUCCEEDED),
        "alice_failed": make_build(developer, "api:1", Build.State.FAILED),
        "bob_ok": make_build(other_developer, "bob-web:1", Build.State.SUCCEEDED),
        "bob_failed": make_build(other_developer, "bob-api:1", Build.State.FAILED),
    }


def shown(page) -> set[str]:
    """The builds the table shows now, by id."""
    rows = page.locator("#build-table tbody tr")
    return {
        rows.nth(index).get_attribute("data-build") for index in range(rows.count())
    }


def ids(*builds) -> set[str]:
    return {str(build.pk) for build in builds}


def row(build) -> str:
    return f"#build-table tr[data-build='{build.pk}']"


def test_an_admin_sees_everyone_s_builds_and_filters_them(
    live_server, page, admin, builds
):
    sign_in(page, live_server, "root", "root-password-1")
    page.goto(f"{live_server.url}/builds/")
    assert shown(page) == ids(*builds.values())
    assert page.locator("h2:has-text('All builds')").count() == 1
    page.evaluate("window.dchwebMarker = 'no reload'")

    page.select_option("#build-filters select[name=owner]", "bob")
    page.wait_for_selector(row(builds["alice_ok"]), state="detached")
    assert shown(page) == ids(builds["bob_ok"], builds["bob_failed"])
    assert set(page.locator("#build-table td.owner").all_inner_texts()) == {"bob"}

    page.select_option("#build-filters select[name=state]", "failed")
    page.wait_for_selector(row(builds["bob_ok"]), state="detached")
    assert shown(page) == ids(builds["bob_failed"])
    assert "owner=bob" in page.url and "state=failed" in page.url

    page.select_option("#build-filters select[name=owner]", "")
    page.select_option("#build-filters select[name=state]", "")
    page.fill("#build-filters input[name=q]", "web")
    page.wait_for_selector(row(builds["alice_failed"]), state="detached")
    page.wait_for_selector(row(builds["alice_ok"]))
    assert shown(page) == ids(builds["alice_ok"], builds["bob_ok"])
    assert page.evaluate("window.dchwebMarker") == "no reload"


def test_a_developer_sees_their_own_builds_only(live_server, page, developer, builds):
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/builds/")

    assert shown(page) == ids(builds["alice_ok"], builds["alice_failed"])
    assert page.locator("#build-filters select[name=owner]").count() == 0

    page.select_option("#build-filters select[name=state]", "failed")
    page.wait_for_selector(row(builds["alice_ok"]), state="detached")
    assert shown(page) == ids(builds["alice_failed"])

    # Another's build stays out, whatever the search or the address says.
    page.goto(f"{live_server.url}/builds/?q=bob&owner=bob")
    assert shown(page) == set()
    assert "No build matches" in page.locator("#build-table").inner_text()


def test_the_builds_page_fits_a_phone(live_server, page, admin, builds):
    page.set_viewport_size(PHONE)
    sign_in(page, live_server, "root", "root-password-1")

    for path in ["/builds/", "/builds/?owner=alice&state=failed"]:
        page.goto(f"{live_server.url}{path}")
        wide = page.evaluate(
            "document.documentElement.scrollWidth > "
            "document.documentElement.clientWidth"
        )
        assert not wide, path
