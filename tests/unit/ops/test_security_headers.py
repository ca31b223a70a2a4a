"""Security headers on every kind of answer, what the HTTPS settings do to a
request, and templates the Content-Security-Policy can live with. What
DCHWEB_HTTPS sets, and Django's deploy check: test_deploy_security.py."""

import re
from pathlib import Path

import pytest
from django.conf import settings as project_settings

from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'; object-src 'none'"
)


def assert_security_headers(response):
    assert response["Content-Security-Policy"] == POLICY
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_the_policy_allows_nothing_inline_and_no_eval():
    assert project_settings.CONTENT_SECURITY_POLICY == POLICY
    assert "unsafe" not in POLICY


def test_security_headers_on_a_page(client, developer):
    client.force_login(developer)

    response = client.get("/")

    assert response.status_code == 200
    assert_security_headers(response)
    assert response["X-Frame-Options"] == "DENY"


def test_security_headers_on_the_login_page_and_a_fragment(client, developer):
    assert_security_headers(client.get("/accounts/login/"))

    client.force_login(developer)
    fragment = client.get("/", HTTP_HX_REQUEST="true")

    assert fragment.status_code == 200
    assert_security_headers(fragment)


def test_security_headers_on_api_answers(client, developer_token):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {developer_token}"}

    ok = client.get("/api/v1/me", **auth)
    missing = client.get("/api/v1/no-such-route", **auth)

    assert ok.status_code == 200
    assert_security_headers(ok)
    assert missing.status_code == 404
    assert missing["Content-Type"].startswith("application/json")
    assert_security_headers(missing)


def test_security_headers_on_healthz(client):
    response = client.get("/healthz")

    # 503 when the unit run has no broker: the headers come either way.
    assert response.status_code in (200, 503)
    assert_security_headers(response)


def test_security_headers_on_an_early_refusal_and_a_static_file(client):
    refused = client.get("/endpoints/?q=%00")
    static = client.get("/static/css/dchweb.css")

    assert refused.status_code == 400
    assert_security_headers(refused)
    assert static.status_code == 200
    assert static["Content-Security-Policy"] == POLICY


def test_the_api_docs_page_needs_no_exception_from_the_csp(client):
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert_security_headers(response)
    scripts = re.findall(r"<script\b[^>]*>", response.content.decode())
    assert scripts
    # Only files of our own and a JSON data block (never executed).
    for tag in scripts:
        assert 'src="/static/' in tag or 'type="application/json"' in tag, tag


def test_debug_error_pages_go_without_the_csp_but_debug_pages_keep_it(
    client, settings, developer
):
    settings.DEBUG = True
    settings.DCHWEB_DEBUG_PAGES = True  # Django's own error pages, asked for
    client.force_login(developer)

    assert "Content-Security-Policy" not in client.get("/no-such-page/")
    assert client.get("/")["Content-Security-Policy"] == POLICY


def test_https_mode_redirects_to_https_except_healthz(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    login = client.get("/accounts/login/")
    health = client.get("/healthz")

    assert login.status_code == 301
    assert login["Location"] == "https://testserver/accounts/login/"
    assert health.status_code in (200, 503)


def test_https_mode_sends_hsts_over_https(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True

    response = client.get("/accounts/login/", secure=True)

    assert (
        response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    )


INLINE_CODE = [
    (re.compile(r"\bhx-on"), "an hx-on handler (htmx evals it)"),
    (re.compile(r"\son[a-z]+\s*="), "an inline event handler"),
    (re.compile(r"\sstyle\s*="), "a style attribute"),
    (re.compile(r"<style\b"), "a <style> block"),
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>"), "an inline <script>"),
    (re.compile(r"javascript:"), "a javascript: URL"),
]


TEMPLATE_COMMENT = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}", re.S)


def test_csp_templates_hold_no_inline_code_nor_style():
    found = []
    for template in sorted(Path(ROOT, "templates").rglob("*.html")):
        text = TEMPLATE_COMMENT.sub("", template.read_text())
        for pattern, what in INLINE_CODE:
            if pattern.search(text):
                found.append(f"{template.relative_to(ROOT)}: {what}")

    assert found == []
