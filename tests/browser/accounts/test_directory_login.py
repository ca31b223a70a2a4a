"""Chromium signs in through the login page as people of the devstack's
directory (OpenLDAP): each sees the navigation of their role."""

import pytest

from tests.support.browser import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN_LINKS = ["Build-host images", "Volumes", "Audit"]


def nav_links(page):
    return [text.strip() for text in page.locator("header nav a").all_text_contents()]


def test_an_ldap_developer_signs_in_and_sees_the_developers_navigation(
    live_server, page, directory
):
    username, password = directory.person_only_in("developers")

    sign_in(page, live_server, username, password)

    assert page.text_content("header .username").strip() == username
    links = nav_links(page)
    assert "Build hosts" in links and "Builds" in links
    assert not set(ADMIN_LINKS) & set(links), links


def test_an_ldap_admin_signs_in_and_sees_the_admin_links(live_server, page, directory):
    username, password = directory.person_only_in("admins")

    sign_in(page, live_server, username, password)

    assert page.text_content("header .username").strip() == username
    links = nav_links(page)
    assert set(ADMIN_LINKS) <= set(links), links
    page.click("header nav a:text-is('Audit')")
    page.wait_for_url(f"{live_server.url}/audit/")
    assert page.locator("h1").first.is_visible()
