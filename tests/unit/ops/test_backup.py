"""manage.py backup / restore (hosts/ops/backup.py) without an engine: the
round trip, and every refusal leaves the database and the data folder as they
were: a wrong key, a damaged or cut file, a database that holds data, a file
that is no backup or climbs out of the data folder, other migrations."""

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils import timezone

from hosts.builds import logs
from hosts.core import audit
from hosts.models import AuditEvent, BuildHost, Endpoint, Registry
from hosts.ops import backup
from tests.conftest import ROOT
from tests.support import world
from tests.support.commands import run

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
BUILD_ID = "0f3c1b2a9d8e4f7a8b6c5d4e3f2a1b0c"


@pytest.fixture
def keys(settings):
    settings.DCHWEB_ENCRYPTION_KEY = NEW_KEY
    return settings


@pytest.fixture
def installation(keys, data_dir, developer):
    """A developer's build host with its keys, a registry with a password, an
    audit trail and a build log: rows with secrets and a file on disk."""
    registry = Registry(name="registry.test:5443", address="registry.test:5443")
    registry.set_password("registry-secret-1")
    registry.save()
    host = BuildHost.objects.create(
        name="alice-1",
        owner=developer,
        endpoint=world.unreachable_endpoint(),
        image="dch-photon:1",
        state=BuildHost.State.READY,
        expires_at=timezone.now() + timedelta(hours=1),
    )
    host.registries.add(registry)
    host.set_secret("owner_key", "-----BEGIN PRIVATE KEY-----\nunit\n")
    host.save()
    audit.record(developer, "build_host.requested", host, source="api")
    logs.append(BUILD_ID, "Step 1/2 : FROM scratch\n")
    return {"registry": registry, "host": host}


def rows():
    """Every row a backup holds, each value as the database gives it back
    (times to the microsecond): to tell a changed database."""
    return {
        model._meta.label_lower: list(model._base_manager.order_by("pk").values())
        for model in backup.backed_up_models()
    }


def data_files(folder):
    return {
        path.relative_to(folder).as_posix(): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def refused(*args):
    with pytest.raises(CommandError) as refusal:
        run("restore", *map(str, args))
    return str(refusal.value)


@pytest.fixture
def made(installation, tmp_path):
    path = tmp_path / "dchweb.tar.gz"
    out, _ = run("backup", str(path))
    assert "backup written to" in out
    return path


def members(path):
    """The backup's members as (TarInfo, bytes), in order."""
    with tarfile.open(path, "r:gz") as tar:
        return [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar]


def rewrite(path, target, change):
    """A copy of the backup at `target`, `change(name, data)` applied to each
    member's content (None drops the member)."""
    with tarfile.open(target, "w:gz") as tar:
        for member, data in members(path):
            data = change(member.name, data)
            if data is not None:
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
    return target


def test_secret_fields_are_found_by_their_names():
    assert backup.secret_fields(Registry) == ["password_encrypted"]
    assert backup.secret_fields(BuildHost) == [
        "ca_key_encrypted",
        "owner_key_encrypted",
        "client_key_encrypted",
    ]


def test_the_file_holds_the_manifest_rows_data_and_end_with_secrets_encrypted(
    made, installation
):
    names = [member.name for member, _ in members(made)]
    assert names == [
        "manifest.json",
        "database.jsonl",
        f"data/build-logs/{BUILD_ID}.log",
        "end.json",
    ]
    content = dict((m.name, data) for m, data in members(made))
    manifest = json.loads(content["manifest.json"])
    assert manifest["models"]["hosts.buildhost"] == 1
    assert manifest["models"]["auth.user"] == 1
    assert "auth.permission" not in manifest["models"]
    assert manifest["migrations"]["hosts"][0] == "0001_initial"
    database = content["database.jsonl"].decode()
    assert "registry-secret-1" not in database
    assert installation["registry"].password_encrypted in database
    assert (made.stat().st_mode & 0o777) == 0o600


def test_a_restore_replaces_everything_with_the_backup_and_is_audited(
    made, installation, data_dir, developer
):
    before = rows()
    Registry.objects.all().update(username="changed-after-the-backup")
    AuditEvent.objects.all().delete()
    (data_dir / "build-logs" / "later.log").write_text("written after the backup")

    out, _ = run("restore", str(made), "--force")

    assert "restored" in out
    after = rows()
    restored_event = AuditEvent.objects.get(action="backup.restored")
    assert restored_event.source == AuditEvent.Source.CLI
    assert restored_event.details["force"] is True
    assert restored_event.details["rows"] == sum(
        json.loads(members(made)[0][1])["models"].values()
    )
    restored_event.delete()
    assert rows() == before != after
    registry = Registry.objects.get()
    assert registry.get_password() == "registry-secret-1"
    host = BuildHost.objects.get()
    assert list(host.registries.all()) == [registry]
    assert host.get_secret("owner_key").startswith("-----BEGIN PRIVATE KEY-----")
    assert host.owner.check_password("alice-password-1")
    assert list(host.owner.groups.values_list("name", flat=True)) == ["developers"]
    assert data_files(data_dir) == {
        f"build-logs/{BUILD_ID}.log": b"Step 1/2 : FROM scratch\n"
    }


# Another process on a new SQLite database: migrate, restore, report. On the
# PostgreSQL run of the suite this is a backup of PostgreSQL loaded by SQLite.
RESTORE_ELSEWHERE = """
import json, sys
import django
django.setup()
from django.core.management import call_command
from hosts.builds import logs
from hosts.models import AuditEvent, BuildHost, Registry
call_command("migrate", verbosity=0)
call_command("restore", sys.argv[1], verbosity=0)
host = BuildHost.objects.get()
print(json.dumps({
    "vendor": __import__("django.db").db.connection.vendor,
    "password": Registry.objects.get().get_password(),
    "host": [host.name, host.owner.username, host.get_secret("owner_key")],
    "created_at": host.created_at.isoformat(),
    "actions": list(AuditEvent.objects.order_by("pk").values_list("action", flat=True)),
    "log": logs.tail(sys.argv[2])[0],
}))
"""


def test_a_backup_loads_into_a_new_sqlite_database_in_another_process(
    made, installation, tmp_path
):
    env = dict(
        os.environ,
        DCHWEB_SQLITE_PATH=str(tmp_path / "elsewhere.sqlite3"),
        DCHWEB_DATA_DIR=str(tmp_path / "elsewhere-data"),
        DCHWEB_ENCRYPTION_KEY=NEW_KEY,
        DJANGO_SETTINGS_MODULE="dchweb.settings",
    )
    env.pop("DATABASE_URL", None)

    done = subprocess.run(
        [sys.executable, "-c", RESTORE_ELSEWHERE, str(made), BUILD_ID],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    host = installation["host"]
    assert found == {
        "vendor": "sqlite",
        "password": "registry-secret-1",
        "host": ["alice-1", "alice", host.get_secret("owner_key")],
        "created_at": host.created_at.isoformat(),
        "actions": ["build_host.requested", "backup.restored"],
        "log": "Step 1/2 : FROM scratch\n",
    }


def test_a_database_that_holds_data_is_refused_without_force(made, data_dir):
    before, files = rows(), data_files(data_dir)

    message = refused(made)

    assert "already holds data" in message
    assert "1 build host" in message and "--force" in message
    assert rows() == before and data_files(data_dir) == files


def test_a_full_data_folder_alone_is_refused_without_force(made, data_dir):
    for model in (AuditEvent, BuildHost, Registry, Endpoint, get_user_model()):
        model.objects.all().delete()

    message = refused(made)

    assert f"(1 file in {data_dir})" in message
    assert not BuildHost.objects.exists()


def test_another_key_is_refused_and_nothing_changes(made, keys, data_dir):
    keys.DCHWEB_ENCRYPTION_KEY = Fernet.generate_key().decode()
    before, files = rows(), data_files(data_dir)

    message = refused(made, "--force")

    assert "encryption key in use cannot read this backup's secrets" in message
    assert "Nothing was restored" in message
    assert rows() == before and data_files(data_dir) == files


def test_a_secret_under_a_key_the_restoring_side_lacks_is_refused(
    installation, keys, data_dir, tmp_path
):
    # Stored under the old key; the backing-up side still has it (second).
    keys.DCHWEB_ENCRYPTION_KEY = OLD_KEY
    installation["registry"].set_password("under-the-old-key")
    installation["registry"].save()
    keys.DCHWEB_ENCRYPTION_KEY = f"{NEW_KEY},{OLD_KEY}"
    path = tmp_path / "rotated.tar.gz"
    run("backup", str(path))
    # The restoring side has the new key only: the key check (made with the
    # first key) opens, the old secret does not.
    keys.DCHWEB_ENCRYPTION_KEY = NEW_KEY
    before, files = rows(), data_files(data_dir)

    message = refused(path, "--force")

    assert "cannot read the secret password_encrypted of hosts.registry" in message
    assert rows() == before and data_files(data_dir) == files


def test_a_backup_is_refused_when_the_key_in_use_cannot_read_a_secret(
    installation, tmp_path
):
    Registry.objects.update(password_encrypted=Fernet(OLD_KEY).encrypt(b"x").decode())
    path = tmp_path / "never.tar.gz"

    with pytest.raises(CommandError) as refusal:
        run("backup", str(path))

    assert "cannot read hosts.registry" in str(refusal.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_a_backup_never_overwrites_a_file(made):
    with pytest.raises(CommandError, match="never overwrites"):
        run("backup", str(made))


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_a_cut_file_is_refused_and_nothing_changes(made, data_dir, tmp_path, keep):
    data = made.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: int(len(data) * keep)])
    before, files = rows(), data_files(data_dir)

    message = refused(cut, "--force")

    assert "cut short" in message or "damaged" in message
    assert rows() == before and data_files(data_dir) == files


def test_a_cut_archive_inside_a_whole_gzip_is_refused(made, tmp_path):
    # Cut before end.json, then compressed again: the gzip stream is whole.
    tar = gzip.decompress(made.read_bytes())
    cut = tmp_path / "recompressed.tar.gz"
    cut.write_bytes(gzip.compress(tar[: tar.index(b"end.json")]))

    assert "cut short" in refused(cut, "--force")


def test_a_changed_row_is_refused(made, tmp_path):
    changed = rewrite(
        made,
        tmp_path / "changed.tar.gz",
        lambda name, data: (
            data.replace(b"alice-1", b"mallory") if name == "database.jsonl" else data
        ),
    )
    before = rows()

    assert "database.jsonl is damaged" in refused(changed, "--force")
    assert rows() == before


def test_a_changed_data_file_is_refused(made, data_dir, tmp_path):
    changed = rewrite(
        made,
        tmp_path / "changed.tar.gz",
        lambda name, data: data.upper() if name.startswith("data/") else data,
    )
    files = data_files(data_dir)

    assert "data files are damaged" in refused(changed, "--force")
    assert data_files(data_dir) == files


def test_a_member_climbing_out_of_the_data_folder_is_refused(made, tmp_path):
    escaping = tmp_path / "escaping.tar.gz"
    with tarfile.open(escaping, "w:gz") as tar:
        for member, data in members(made):
            if member.name.startswith("data/"):
                member.name = "data/../../escaped.txt"
            tar.addfile(member, io.BytesIO(data))

    assert "no plain file or folder under data/" in refused(escaping, "--force")
    assert not (tmp_path / "escaped.txt").exists()


def test_a_file_that_is_no_backup_is_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a backup")
    other_tar = tmp_path / "other.tar.gz"
    with tarfile.open(other_tar, "w:gz") as tar:
        tar.add(text, arcname="notes.txt")

    assert "damaged or cut short, or no dchweb backup" in refused(text)
    assert "does not begin with manifest.json" in refused(other_tar)
    assert "is not a file" in refused(tmp_path / "missing.tar.gz")


def test_a_backup_at_other_migrations_is_refused(made, tmp_path):
    made_at = []

    def older(name, data):
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["migrations"]["hosts"] = manifest["migrations"]["hosts"][:-1]
        made_at.append(manifest["migrations"]["hosts"][-1])
        return json.dumps(manifest).encode()

    other = rewrite(made, tmp_path / "older.tar.gz", older)
    before = rows()

    message = refused(other, "--force")

    assert "not at the migrations the backup was made at" in message
    # The migration before the last, whichever it is at this release.
    assert f"hosts: the backup at {made_at[0]}" in message
    assert rows() == before


def test_a_failure_after_the_files_were_swapped_puts_the_data_folder_back(
    made, data_dir, monkeypatch
):
    (data_dir / "build-logs" / "later.log").write_text("written after the backup")
    before, files = rows(), data_files(data_dir)
    swap = backup._Swap.make

    def swap_then_fail(self):
        swap(self)
        raise OSError("the commit failed")

    monkeypatch.setattr(backup._Swap, "make", swap_then_fail)

    with pytest.raises(OSError, match="the commit failed"):
        backup.restore(made, force=True)

    assert rows() == before and data_files(data_dir) == files
