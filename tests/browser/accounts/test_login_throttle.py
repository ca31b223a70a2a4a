"""Chromium: five wrong passwords lock the name at this address, and the right
one then meets the lockout in words, on the project's styled login page."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def submit(page, username, password):
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("button[type=submit]")
    page.wait_for_load_state()
    return answer.value


def test_five_wrong_passwords_then_the_right_one_shows_the_lockout(
    live_server, page, developer
):
    page.goto(f"{live_server.url}/accounts/login/")
    statuses = [submit(page, "alice", "wrong").status for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]

    refused = submit(page, "alice", "alice-password-1")

    assert refused.status == 429
    assert "/accounts/login/" in page.url
    notice = page.text_content("#lockout")
    assert "Too many failed sign-ins for alice from your address" in " ".join(
        notice.split()
    )
    assert "try again in 15 minutes" in " ".join(notice.split())
    # The styled page: the base template's bar, its stylesheet applied, the form.
    assert page.is_visible("header.topbar a.brand")
    assert (
        page.evaluate(
            "getComputedStyle(document.querySelector('header.topbar')).display"
        )
        == "flex"
    )
    assert page.is_visible("input[name=username]")
    assert "Signed in as" not in page.text_content("body")
