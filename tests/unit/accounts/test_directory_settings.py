"""Directory sign-in from the DCHWEB_LDAP_* variables (dchweb/settings.py), and
the group rule of hosts.accounts.directory: exactly the mapped groups."""

import json
import os
import subprocess
import sys

import pytest
from django.contrib.auth.models import Group

from hosts.accounts.directory import normalized_dn, normalized_dns, sync_groups
from tests.conftest import ROOT

DIRECTORY = "hosts.accounts.directory.DirectoryBackend"
MODEL = "django.contrib.auth.backends.ModelBackend"
LDAP_ON = {
    "DCHWEB_LDAP_SERVER_URI": "ldaps://dc1.example.com",
    "DCHWEB_LDAP_BIND_DN": "CN=svc-dchweb,OU=Service,DC=example,DC=com",
    "DCHWEB_LDAP_BIND_PASSWORD": "s3cret",
    "DCHWEB_LDAP_USER_BASE": "OU=People,DC=example,DC=com",
    "DCHWEB_LDAP_USER_FILTER": "(&(objectClass=user)(sAMAccountName=%(user)s))",
    "DCHWEB_LDAP_GROUP_BASE": "OU=Groups,DC=example,DC=com",
    "DCHWEB_LDAP_GROUP_FILTER": "(objectClass=group)",
    "DCHWEB_LDAP_GROUP_TYPE": "nestedActiveDirectory",
    "DCHWEB_LDAP_DEVELOPERS_GROUP": "CN=dchweb-developers,OU=Groups,DC=example,DC=com",
    "DCHWEB_LDAP_ADMINS_GROUP": "CN=dchweb-admins,OU=Groups,DC=example,DC=com",
}
SHOW = """
import json, django
django.setup()
from django.conf import settings as s
print(json.dumps({
    "backends": s.AUTHENTICATION_BACKENDS,
    "uri": getattr(s, "AUTH_LDAP_SERVER_URI", None),
    "password": getattr(s, "AUTH_LDAP_BIND_PASSWORD", None),
    "user_filter": getattr(s.AUTH_LDAP_USER_SEARCH, "filterstr", None)
    if hasattr(s, "AUTH_LDAP_USER_SEARCH") else None,
    "group_type": type(getattr(s, "AUTH_LDAP_GROUP_TYPE", None)).__name__,
    "groups": getattr(s, "DCHWEB_LDAP_GROUPS", None),
}))
"""


def settings_with(env_overrides):
    """The settings a process started with these variables has. Every
    DCHWEB_LDAP_* is set (empty unless given): the devstack's env file only
    fills in variables the environment lacks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DCHWEB_LDAP_")}
    env.update({name: "" for name in [*LDAP_ON, "DCHWEB_LDAP_BIND_PASSWORD_FILE"]})
    env.update(DJANGO_SETTINGS_MODULE="dchweb.settings", **env_overrides)
    result = subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result


def shown(env_overrides):
    result = settings_with(env_overrides)
    assert result.returncode == 0, result.stderr
    # Logging also writes to stdout: the settings are the last line.
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_no_server_uri_no_directory_backend():
    values = shown({})

    assert DIRECTORY not in values["backends"]
    assert MODEL in values["backends"]
    assert values["uri"] is None


def test_a_server_uri_puts_the_directory_before_model_backend_and_axes_stays_first():
    values = shown(LDAP_ON)

    backends = values["backends"]
    assert backends.index(DIRECTORY) == backends.index(MODEL) - 1
    if "axes.backends.AxesStandaloneBackend" in backends:
        assert backends[0] == "axes.backends.AxesStandaloneBackend"
    assert values["uri"] == "ldaps://dc1.example.com"
    assert values["password"] == "s3cret"
    assert values["user_filter"] == LDAP_ON["DCHWEB_LDAP_USER_FILTER"]
    assert values["group_type"] == "NestedActiveDirectoryGroupType"
    assert values["groups"] == {
        "developers": LDAP_ON["DCHWEB_LDAP_DEVELOPERS_GROUP"],
        "admins": LDAP_ON["DCHWEB_LDAP_ADMINS_GROUP"],
    }


def test_the_bind_password_file_wins_over_the_variable(tmp_path):
    secret = tmp_path / "ldap-password"
    secret.write_text("from-the-file\n")

    values = shown({**LDAP_ON, "DCHWEB_LDAP_BIND_PASSWORD_FILE": str(secret)})

    assert values["password"] == "from-the-file"


@pytest.mark.parametrize(
    "missing", ["DCHWEB_LDAP_USER_BASE", "DCHWEB_LDAP_ADMINS_GROUP"]
)
def test_a_server_uri_without_what_sign_in_needs_refuses_to_start(missing):
    result = settings_with({**LDAP_ON, missing: ""})

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr


def test_an_unknown_group_type_refuses_to_start():
    result = settings_with({**LDAP_ON, "DCHWEB_LDAP_GROUP_TYPE": "memberOfMagic"})

    assert result.returncode != 0
    assert "DCHWEB_LDAP_GROUP_TYPE" in result.stderr


def test_dns_compare_in_one_spelling():
    assert normalized_dn("CN=dchweb-admins, OU=Groups,DC=example,DC=com") == (
        "cn=dchweb-admins,ou=groups,dc=example,dc=com"
    )
    assert normalized_dns(["CN=A,DC=x", "cn=a, dc=X"]) == {"cn=a,dc=x"}


@pytest.mark.django_db
def test_sync_sets_exactly_the_mapped_groups_and_leaves_the_others(
    settings, django_user_model
):
    settings.DCHWEB_LDAP_GROUPS = {
        "developers": "cn=developers,ou=groups,dc=t",
        "admins": "CN=Admins,OU=Groups,DC=t",
    }
    user = django_user_model.objects.create_user("carol")
    user.groups.add(
        Group.objects.get_or_create(name="admins")[0],
        Group.objects.create(name="beta-testers"),
    )

    sync_groups(user, normalized_dns(["cn=developers,ou=groups,dc=t"]))
    assert set(user.groups.values_list("name", flat=True)) == {
        "developers",
        "beta-testers",
    }

    sync_groups(user, normalized_dns(["cn=admins,ou=groups,dc=t"]))
    assert set(user.groups.values_list("name", flat=True)) == {
        "admins",
        "beta-testers",
    }
