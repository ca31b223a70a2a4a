"""The devstack's sign-in directory: the OpenLDAP devstack/up runs on a unix
socket, its people from var/devstack/ldap-users (`username password group` a
line), and changes to it made as its root over that socket (SASL EXTERNAL,
which is the machine's root user: `make test` runs as root).

A test that needs the directory fails, saying what is missing, when the
devstack has no directory or this run's settings have LDAP sign-in off."""

import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import devstack_value

BACKEND = "hosts.accounts.directory.DirectoryBackend"


@dataclass
class Directory:
    uri: str
    user_base: str
    groups: dict  # Django group name -> LDAP group DN
    people: dict  # username -> (password, {group, ...}) from the users file
    added: list = field(default_factory=list)

    def person_only_in(self, group):
        """(username, password) of someone in `group` and in no other."""
        for username, (password, groups) in sorted(self.people.items()):
            if groups == {group}:
                return username, password
        pytest.fail(
            f"{devstack_value('DCHWEB_LDAP_USERS_FILE')} has nobody in {group} "
            "alone: devstack/up makes alice-ldap (developers) and root-ldap (admins)"
        )

    def dn(self, username):
        return f"uid={username},{self.user_base}"

    def modify(self, ldif):
        """ldapmodify on the devstack's directory, as its root."""
        result = subprocess.run(
            ["ldapmodify", "-Q", "-Y", "EXTERNAL", "-H", self.uri],
            input=ldif,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, f"ldapmodify failed: {result.stderr}\n{ldif}"

    def add_person(self, groups):
        """A new person in the directory, in the LDAP groups of the Django
        `groups` named: (username, password). Removed by `remove_added()`."""
        username = f"t{uuid.uuid4().hex[:10]}-ldap"
        password = uuid.uuid4().hex
        dn = self.dn(username)
        self.modify(
            f"dn: {dn}\nchangetype: add\nobjectClass: inetOrgPerson\n"
            f"uid: {username}\ncn: {username}\nsn: Tester\ngivenName: Tess\n"
            f"mail: {username}@dchweb.test\nuserPassword: {password}\n"
        )
        self.added.append(username)
        for group in groups:
            self.add_member(group, username)
        return username, password

    def add_member(self, group, username):
        self.modify(
            f"dn: {self.groups[group]}\nchangetype: modify\n"
            f"add: member\nmember: {self.dn(username)}\n"
        )

    def remove_member(self, group, username):
        self.modify(
            f"dn: {self.groups[group]}\nchangetype: modify\n"
            f"delete: member\nmember: {self.dn(username)}\n"
        )

    def remove_added(self):
        for username in self.added:
            dn = self.dn(username)
            for group_dn in self.groups.values():
                # Not an error when the test took them out already.
                subprocess.run(
                    ["ldapmodify", "-c", "-Q", "-Y", "EXTERNAL", "-H", self.uri],
                    input=f"dn: {group_dn}\nchangetype: modify\n"
                    f"delete: member\nmember: {dn}\n",
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
            self.modify(f"dn: {dn}\nchangetype: delete\n")
        self.added.clear()


def read_people(path: Path) -> dict:
    people = {}
    for line in path.read_text().splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        if len(fields) != 3:
            pytest.fail(f"{path}: {line!r} is not `username password group`")
        username, password, group = fields
        people.setdefault(username, (password, set()))[1].add(group)
    return people


def devstack_directory():
    """The devstack's directory, checked: it answers, and this run signs in
    against it."""
    uri = devstack_value("DCHWEB_LDAP_SERVER_URI")
    users_file = Path(devstack_value("DCHWEB_LDAP_USERS_FILE"))
    if not users_file.is_file():
        pytest.fail(f"{users_file} is missing: devstack/up makes it")
    answer = subprocess.run(
        ["ldapwhoami", "-Q", "-Y", "EXTERNAL", "-H", uri],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if answer.returncode != 0:
        pytest.fail(
            f"the devstack's directory at {uri} does not answer "
            f"({answer.stderr.strip()}): run devstack/up"
        )
    if getattr(settings, "AUTH_LDAP_SERVER_URI", "") != uri or (
        BACKEND not in settings.AUTHENTICATION_BACKENDS
    ):
        pytest.fail(
            "LDAP sign-in is off in this run's settings (DCHWEB_LDAP_SERVER_URI "
            f"should be {uri}): run the tests through devstack/exec"
        )
    return Directory(
        uri=uri,
        user_base=devstack_value("DCHWEB_LDAP_USER_BASE"),
        groups={
            "developers": devstack_value("DCHWEB_LDAP_DEVELOPERS_GROUP"),
            "admins": devstack_value("DCHWEB_LDAP_ADMINS_GROUP"),
        },
        people=read_people(users_file),
    )
