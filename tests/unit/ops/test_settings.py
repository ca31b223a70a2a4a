"""Settings come from the environment; production refuses unsafe defaults."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from dchweb import envfile
from dchweb import settings as project_settings
from tests.conftest import ROOT, devstack_value


def run_django(env_overrides, code="import django; django.setup()"):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DCHWEB_SECRET_KEY", "DCHWEB_PRODUCTION", "DCHWEB_DEBUG")
    }
    env.update(DJANGO_SETTINGS_MODULE="dchweb.settings", **env_overrides)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_without_a_secret_key_refuses_to_start():
    result = run_django({"DCHWEB_PRODUCTION": "1"})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DCHWEB_SECRET_KEY" in result.stderr


def test_production_forces_debug_off():
    result = run_django(
        {"DCHWEB_PRODUCTION": "1", "DCHWEB_SECRET_KEY": "x" * 50, "DCHWEB_DEBUG": "1"},
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DEBUG, settings.SESSION_COOKIE_SECURE)",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]


def test_a_boolean_that_is_not_one_fails_loudly(monkeypatch):
    monkeypatch.setenv("DCHWEB_SOMETHING", "maybe")

    with pytest.raises(ImproperlyConfigured, match="DCHWEB_SOMETHING"):
        project_settings.env_bool("DCHWEB_SOMETHING")


def test_env_int_parses_and_rejects(monkeypatch):
    monkeypatch.setenv("DCHWEB_NUMBER", "12")
    assert project_settings.env_int("DCHWEB_NUMBER", 3) == 12

    monkeypatch.setenv("DCHWEB_NUMBER", "twelve")
    with pytest.raises(ImproperlyConfigured):
        project_settings.env_int("DCHWEB_NUMBER", 3)


def test_env_file_values_are_defaults_that_the_environment_overrides(
    tmp_path, monkeypatch
):
    env_file = tmp_path / "env"
    env_file.write_text(
        "# devstack\nDCHWEB_UNIT_A=from-file\nDCHWEB_UNIT_B=from-file\n"
    )
    monkeypatch.setenv("DCHWEB_UNIT_B", "from-environment")
    monkeypatch.delenv("DCHWEB_UNIT_A", raising=False)

    envfile.load_env_defaults(env_file)

    assert os.environ["DCHWEB_UNIT_A"] == "from-file"
    assert os.environ["DCHWEB_UNIT_B"] == "from-environment"
    monkeypatch.delenv("DCHWEB_UNIT_A")


def test_a_missing_env_file_is_not_an_error(tmp_path):
    envfile.load_env_defaults(tmp_path / "absent")


def assert_sqlite_in_wal_mode_on_a_file():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        journal_mode = cursor.fetchone()[0]

    assert journal_mode == "wal"
    # A file, not :memory:, so a worker process can open the same database.
    assert Path(connection.settings_dict["NAME"]).is_file()


def assert_postgresql_from_database_url():
    # The test database is the one DATABASE_URL names, with pytest-django's
    # prefix, on a server new enough for Django 5.2 (PostgreSQL 14+).
    url_name = os.environ["DATABASE_URL"].rsplit("/", 1)[1].split("?")[0]
    assert connection.settings_dict["NAME"] == f"test_{url_name}"
    assert connection.pg_version >= 140000


@pytest.mark.django_db
def test_the_database_is_the_one_configured():
    checks = {
        "sqlite": assert_sqlite_in_wal_mode_on_a_file,
        "postgresql": assert_postgresql_from_database_url,
    }
    assert connection.vendor in checks, f"no check for a {connection.vendor} database"
    checks[connection.vendor]()


def test_a_cache_url_shares_the_volume_totals_cache_between_processes():
    # Celery's form of the devstack's Redis socket, as an operator would copy it.
    url = devstack_value("DCHWEB_REDIS_URL")
    key = f"settings-test-{uuid.uuid4().hex}"
    setup = "import django; django.setup(); from django.core.cache import cache; "

    put = run_django({"DCHWEB_CACHE_URL": url}, setup + f"cache.set({key!r}, 42, 30)")
    got = run_django(
        {"DCHWEB_CACHE_URL": url},
        setup + f"print(cache.get({key!r})); cache.delete({key!r})",
    )

    assert put.returncode == 0, put.stderr
    assert got.stdout.strip() == "42", got.stderr


def test_without_a_cache_url_each_process_has_its_own_cache():
    assert project_settings.cache_settings("")["default"]["BACKEND"].endswith(
        "LocMemCache"
    )
    shared = project_settings.cache_settings("redis+socket:///run/r.sock")["default"]
    assert shared["LOCATION"] == "unix:///run/r.sock"
