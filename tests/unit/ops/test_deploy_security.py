"""DCHWEB_HTTPS (production behind TLS): HSTS, the redirect to https and secure
cookies, so that Django's deploy check finds nothing to say."""

import os
import secrets
import subprocess
import sys

from tests.conftest import ROOT

# Variables a developer's shell may hold that would change what is checked.
SECURITY_VARIABLES = (
    "DCHWEB_PRODUCTION",
    "DCHWEB_DEBUG",
    "DCHWEB_SECRET_KEY",
    "DCHWEB_ALLOWED_HOSTS",
    "DCHWEB_HTTPS",
    "DCHWEB_SECURE_COOKIES",
    "DCHWEB_BEHIND_PROXY",
    "DCHWEB_HSTS_PRELOAD",
    # tests/conftest.py sets it for Playwright; the deploy check refuses it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def run(args, **variables):
    env = {k: v for k, v in os.environ.items() if k not in SECURITY_VARIABLES}
    env.update(DJANGO_SETTINGS_MODULE="dchweb.settings", **variables)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def production(**variables):
    return {
        "DCHWEB_PRODUCTION": "1",
        # 50+ random characters, as Django's check wants (security.W009).
        "DCHWEB_SECRET_KEY": secrets.token_urlsafe(50),
        "DCHWEB_ALLOWED_HOSTS": "dchweb.example.com",
        **variables,
    }


def settings_line(**variables):
    """The settings DCHWEB_HTTPS decides, as one line (logging also uses stdout)."""
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print('SETTINGS', s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, "
        "s.SECURE_HSTS_PRELOAD, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, *s.SECURE_REDIRECT_EXEMPT)"
    )
    result = run(["-c", code], **variables)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("SETTINGS")]
    return lines[-1].split()[1:]


def test_deploy_check_in_production_with_https_reports_no_issue():
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **production(DCHWEB_HTTPS="1"),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_deploy_check_in_production_without_https_asks_for_hsts_and_redirect():
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        **production(),
    )

    assert result.returncode != 0
    assert "security.W004" in result.stderr  # no HSTS
    assert "security.W008" in result.stderr  # no redirect to https


def test_dchweb_https_turns_on_hsts_redirect_and_secure_cookies():
    on = settings_line(DCHWEB_HTTPS="1")
    off = settings_line()

    assert on == ["31536000", "True", "False", "True", "True", "True", "^healthz$"]
    assert off == ["0", "False", "False", "False", "False", "False", "^healthz$"]


def test_hsts_preload_only_when_asked():
    assert settings_line(DCHWEB_HTTPS="1", DCHWEB_HSTS_PRELOAD="1")[2] == "True"
    # Preload without HSTS would mean nothing: it needs DCHWEB_HTTPS.
    assert settings_line(DCHWEB_HSTS_PRELOAD="1")[2] == "False"


def test_secure_cookies_alone_still_work_without_https():
    assert settings_line(DCHWEB_SECURE_COOKIES="1")[3:6] == ["False", "True", "True"]


def test_dchweb_https_refuses_insecure_cookies():
    result = run(
        ["-c", "import django; django.setup()"],
        DCHWEB_HTTPS="1",
        DCHWEB_SECURE_COOKIES="0",
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DCHWEB_SECURE_COOKIES" in result.stderr
