"""Chromium, driven by Playwright, signs in through the real login page."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_leads_to_home_with_the_users_name(live_server, page, developer):

    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url

    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "alice-password-1")
    page.click("button[type=submit]")

    page.wait_for_url(f"{live_server.url}/")
    assert "Signed in as alice" in page.text_content("body")


def test_wrong_password_stays_on_login_with_a_message(live_server, page, developer):

    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")

    assert "/accounts/login/" in page.url
    assert "enter a correct username and password" in page.text_content("body")
