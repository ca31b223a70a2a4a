"""A developer manages their API tokens in Chromium on /account/tokens/:
the secret is shown once (a double click still makes one token), the token
opens the API, and Revoke (confirmed) shuts it out. At 390 px the page does
not scroll sideways."""

import pytest

from hosts.models import ApiToken
from tests.support.browser import sign_in, until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def api_me(page, live_server, secret):
    return page.request.get(
        f"{live_server.url}/api/v1/me",
        headers={"Authorization": f"Bearer {secret}"},
    )


def test_a_token_is_made_once_shown_once_and_revoked(live_server, page, developer):
    sign_in(page, live_server, "alice", "alice-password-1")
    page.click("header >> text=API tokens")
    page.wait_for_url(f"{live_server.url}/account/tokens/")
    page.click("summary:text('Make a token')")
    page.fill("input[name=name]", "laptop")
    page.check("input[name=scope][value=read]")

    page.dblclick("button:text('Make token')")

    secret = page.locator("#new-token-secret").text_content().strip()
    assert secret.startswith("dchw_")
    page.wait_for_function(until("!document.querySelector('.htmx-request')"))
    assert ApiToken.objects.filter(user=developer).count() == 1
    row = page.locator("table.token-table tbody tr")
    assert row.count() == 1
    assert "Read only" in row.text_content() and "Active" in row.text_content()
    assert api_me(page, live_server, secret).json()["username"] == "alice"
    # Shown once: the page again does not have it.
    page.reload()
    assert page.locator("#new-token-secret").count() == 0
    assert secret not in page.content()

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:text('Revoke')")

    page.wait_for_function(
        until("document.querySelector('.token-table .badge')?.textContent == 'Revoked'")
    )
    assert "revoked" in page.locator("#messages").text_content()
    assert api_me(page, live_server, secret).status == 401


def test_dismissing_the_confirmation_revokes_nothing(live_server, page, developer):
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/account/tokens/")
    page.click("summary:text('Make a token')")
    page.fill("input[name=name]", "ci")
    page.click("button:text('Make token')")
    page.locator("#new-token-secret").wait_for()

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button:text('Revoke')")

    assert page.locator(".token-table .badge").text_content() == "Active"
    assert ApiToken.objects.get(user=developer).revoked_at is None


def test_the_page_fits_a_phone(live_server, page, developer):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server, "alice", "alice-password-1")
    page.goto(f"{live_server.url}/account/tokens/")
    page.click("summary:text('Make a token')")
    page.fill("input[name=name]", "a token with a rather long name, for a phone")
    page.click("button:text('Make token')")
    page.locator("#new-token-secret").wait_for()

    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("#new-token-secret").is_visible()
