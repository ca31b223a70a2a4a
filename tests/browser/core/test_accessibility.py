"""axe-core over every page (tests/support/pages.py: PAGES), signed out, as a
developer and as an admin, at 1366 and 390 px, in Chromium: no violation of
its default rules (WCAG A and AA and best practices)."""

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.support.browser import sign_in
from tests.support.pages import ADMIN, ANYONE, DEVELOPER, USERS, make_world, pages_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def violations_on(page, axe):
    """Each violation axe finds on the page now, as a line a person reads:
    the rule, what it asks, and the nodes that break it."""
    found = axe.run(page).response["violations"]
    return [
        f"{violation['id']}: {violation['help']} at "
        + "; ".join(" ".join(node["target"]) for node in violation["nodes"])
        for violation in found
    ]


def walk(page, live_server, paths):
    axe = Axe()
    problems = []
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        page.wait_for_load_state("load")
        problems += [f"{path}: {line}" for line in violations_on(page, axe)]
    return problems


@pytest.fixture
def ids(developer, admin):
    return make_world(developer, admin)


def test_the_signed_out_pages_have_no_violation(page, live_server):
    problems = walk(page, live_server, pages_for(ANYONE, {}))

    assert problems == [], "\n".join(problems)


# At 1366 px the walk also proves every page renders on PostgreSQL (the one
# browser test on both CI legs); the 390 px walk checks the same HTML again:
# once per CI run, as every other browser test (tests/conftest.py).
@pytest.mark.parametrize(
    "width", [pytest.param(1366, marks=pytest.mark.every_database), 390]
)
@pytest.mark.parametrize("who", [DEVELOPER, ADMIN])
def test_every_page_has_no_violation(page, live_server, ids, who, width):
    # At 390 px wide tables, commands and logs scroll in their own boxes.
    page.set_viewport_size({"width": width, "height": 844})
    sign_in(page, live_server, *USERS[who])

    problems = walk(page, live_server, pages_for(who, ids))

    assert problems == [], "\n".join(problems)
