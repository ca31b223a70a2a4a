"""The layout in Chromium: at 390 px (a phone) no page of tests/support/pages.py
is wider than the screen and the whole menu, the user's name and "Log out" are
on it; at 1366 px the audit trail gives its details room, as key/value pairs,
with long ids shortened and whole on hover."""

import pytest

from hosts.models import AuditEvent, Build, BuildHost, Volume
from tests.support.browser import sign_in, until
from tests.support.pages import (
    ADMIN,
    ANONYMOUS_VOLUME,
    ANYONE,
    DEVELOPER,
    DIGEST,
    USERS,
    make_world,
    pages_for,
    record_audit_events,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}

# JS: the elements that reach past the screen's right edge, deepest first
# (what to fix when a page is too wide).
TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  const named = (element) => element.tagName.toLowerCase()
    + (element.id ? '#' + element.id : '')
    + (element.className && typeof element.className === 'string'
       ? '.' + element.className.trim().split(/\\s+/).join('.') : '');
  // Inside a box that scrolls or clips, an element widens that box only.
  const clipped = (element) => {
    // (an absolutely placed element escapes a box that is not positioned)
    if (getComputedStyle(element).position === 'absolute') return false;
    for (let up = element.parentElement; up && up !== document.body;
         up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') return true;
    }
    return false;
  };
  return Array.from(document.querySelectorAll('body *'))
    .filter((element) => element.getBoundingClientRect().right > width + 1
      && !clipped(element))
    .slice(0, 8)
    .map((element) => named(element) + ' to '
      + Math.round(element.getBoundingClientRect().right) + ' px');
}"""


def page_width(page):
    return page.evaluate("document.documentElement.scrollWidth")


def on_screen(page, locator):
    """Visible and inside the screen's width (not cut off at its right)."""
    if not locator.is_visible():
        return False
    box = locator.bounding_box()
    return box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] + 1


def menu_problems(page, path):
    """The menu's links and "Log out" that a person at 390 px cannot see."""
    items = page.locator("header.topbar nav a, header.topbar .account > *")
    assert items.count() >= 3, path
    return [
        f"{path}: {items.nth(n).inner_text()!r} is off the screen"
        for n in range(items.count())
        if not on_screen(page, items.nth(n))
    ]


def walk_narrow(page, live_server, paths, signed_in=True):
    problems = []
    for path in paths:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        width = page_width(page)
        if width > PHONE["width"]:
            problems.append(f"{path}: {width} px wide: {page.evaluate(TOO_WIDE)}")
        if signed_in:
            problems += menu_problems(page, path)
    return problems


@pytest.fixture
def ids(developer, admin):
    return make_world(developer, admin)


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def laptop(browser):
    context = browser.new_context(
        viewport=LAPTOP, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def test_the_login_page_fits_a_phone(phone, live_server):
    problems = walk_narrow(phone, live_server, pages_for(ANYONE, {}), signed_in=False)

    assert problems == [], "\n".join(problems)


# Widths are CSS, whatever the database: once per CI run, as every browser
# test but the accessibility walk at 1366 px (tests/conftest.py).
@pytest.mark.parametrize("who", [DEVELOPER, ADMIN])
def test_every_page_fits_a_phone_with_the_whole_menu(phone, live_server, ids, who):
    sign_in(phone, live_server, *USERS[who])

    problems = walk_narrow(phone, live_server, pages_for(who, ids))

    assert problems == [], "\n".join(problems)
    # The menu wrapped onto lines of its own rather than running off.
    menu = phone.locator("header.topbar nav").bounding_box()
    assert (
        menu["height"]
        > 2 * phone.locator("header.topbar nav a").first.bounding_box()["height"]
    )


# JS: table cells whose words are squeezed into a column too narrow to read
# (a cell of a sentence or more, narrower than about a dozen characters: the
# audit trail's details once wrapped one character a line in 82 px).
SQUEEZED = """() => Array.from(document.querySelectorAll('main td, main th'))
  .filter((cell) => cell.textContent.trim().length > 30
    && cell.getBoundingClientRect().width < 120)
  .map((cell) => cell.textContent.trim().slice(0, 30)
    + ' in ' + Math.round(cell.getBoundingClientRect().width) + ' px')"""


@pytest.mark.parametrize("who", [DEVELOPER, ADMIN])
def test_no_column_is_squeezed_at_1366_px(laptop, live_server, ids, who):
    sign_in(laptop, live_server, *USERS[who])

    problems = []
    for path in pages_for(who, ids):
        laptop.goto(f"{live_server.url}{path}")
        if page_width(laptop) > LAPTOP["width"]:
            problems.append(f"{path}: {page_width(laptop)} px wide")
        problems += [f"{path}: {cell}" for cell in laptop.evaluate(SQUEEZED)]

    assert problems == [], "\n".join(problems)


def test_the_audit_trail_at_1366_px_reads_as_key_value_pairs(
    laptop, live_server, developer, admin
):
    ids = make_world(developer, admin)
    record_audit_events(
        admin,
        BuildHost.objects.get(pk=ids["build_host"]),
        Build.objects.get(pk=ids["build"]),
        Volume.objects.get(name=ANONYMOUS_VOLUME),
        count=20,
    )
    assert AuditEvent.objects.count() >= 60
    sign_in(laptop, live_server, *USERS[ADMIN])

    laptop.goto(f"{live_server.url}/audit/")

    table = laptop.locator("#audit-table table")
    details = laptop.locator("#audit-table td.event-details").first
    assert details.bounding_box()["width"] >= 0.3 * table.bounding_box()["width"]
    assert page_width(laptop) <= LAPTOP["width"]
    # Words, never a Python dict: each key a term, each value its description.
    text = laptop.locator("#audit-table tbody").inner_text()
    assert "{'" not in text and "[[" not in text
    pushed = laptop.locator("tr[data-action='build.pushed'] td.event-details").first
    assert pushed.locator("dt").all_inner_texts() == ["Tag", "Digest"]
    # A digest is shortened, whole on hover and in what a copy takes.
    digest = pushed.locator("dd .long-value").first
    assert digest.get_attribute("title") == DIGEST
    assert digest.bounding_box()["width"] < 200
    copied = digest.locator("button[data-copy]").get_attribute("data-copy")
    assert laptop.locator(f"#{copied}").text_content() == DIGEST
    digest.locator("button[data-copy]").click()
    laptop.wait_for_function(until("document.activeElement.textContent === 'Copied'"))
    assert laptop.evaluate("navigator.clipboard.readText()") == DIGEST
    # A nested rule reads as words too: the volume's name is shortened.
    planned = laptop.locator("tr[data-action='cleanup.planned']").first
    assert planned.locator(f"[title='{ANONYMOUS_VOLUME}']").count() >= 1
    # Rows stay a few lines tall, and a page is not a wall.
    heights = laptop.evaluate(
        "Array.from(document.querySelectorAll('#audit-table tbody tr'),"
        " (row) => row.getBoundingClientRect().height)"
    )
    assert max(heights) < 160, heights
    assert laptop.evaluate("document.documentElement.scrollHeight") < 5000
    assert laptop.locator("#audit-table .pager a", has_text="Older").count() == 1
