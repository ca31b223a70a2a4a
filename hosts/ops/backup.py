"""Backup and restore of an installation (`manage.py backup PATH`,
`manage.py restore PATH`): the database in a portable form and the data
folder, in one gzip-compressed tar file that loads into SQLite or PostgreSQL
alike, whichever the backup came from.

The members, in this order (docs/deploy.md, "Backup and restore"):

    manifest.json    what the file holds: the format and its version, when it
                     was made, the migrations the database was at, the rows per
                     model, the SHA-256 of database.jsonl, and a key check (a
                     known text encrypted with the key in use)
    database.jsonl   every row of every model (LEFT_OUT aside), one JSON
                     object a line: Django's serializer, users, groups,
                     permissions and content types named by natural key
    data/...         DCHWEB_DATA_DIR as it was: build contexts and build logs
    end.json         how many data files and bytes came before, and their
                     SHA-256: a file cut short, or damaged in a data file, is
                     told from a whole one

Secrets stay as the database holds them, encrypted: a backup opens with the
encryption key that made it and with no other. The backup checks that the key
in use reads every secret (so what it writes can be restored with that key);
the restore checks the key check first, then every secret as it loads it, and
refuses, with nothing changed, when one does not open.

A restore runs in one transaction: it refuses a database that holds data
unless told to replace it (`force`), deletes what is there, loads the rows,
checks them against the manifest, audits itself, and moves the data folder
into place just before the commit (back again if the commit fails).
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path, PurePosixPath

from django.apps import apps
from django.conf import settings
from django.core import serializers
from django.core.exceptions import ObjectDoesNotExist
from django.core.management.color import no_style
from django.core.serializers.base import DeserializationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connection, transaction
from django.db.migrations.recorder import MigrationRecorder

from hosts.core import audit
from hosts.lib import crypto
from hosts.models import AuditEvent

FORMAT = "dchweb-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "database.jsonl"
DATA = "data"
END = "end.json"
KEY_CHECK_TEXT = "dchweb backup key check"
COPY_CHUNK = 1024 * 1024
ROWS_PER_QUERY = 1000

# Models whose rows a backup leaves out, and why. The rest, of every app,
# are in it: a new model is backed up without a list to edit.
LEFT_OUT = {
    # `migrate` makes them; rows refer to them by natural key.
    "contenttypes.contenttype",
    "auth.permission",
    # Sign-ins: everyone signs in again after a restore (it deletes them).
    "sessions.session",
    # Kept by the database's triggers on hosts_volume (migration 0011).
    "hosts.volumeledgerstamp",
}
# Apps left out whole: axes' failed sign-in counts are no data to keep.
LEFT_OUT_APPS = {"axes"}
# Cleared by a restore though not in a backup: a session names a user by id,
# and the ids now belong to the backup's users.
CLEARED_TOO = ("sessions.session",)
# Rows a freshly migrated and started installation makes by itself (the
# groups of migration 0002, the installation id at first use): they do not
# count as data a restore would replace.
MADE_BY_A_FRESH_INSTALL = {"auth.group", "hosts.installation"}
# Staging and set-aside folders a restore makes inside the data folder, so
# that every move is a rename on one file system (the folder may be a mount
# point, which itself cannot be renamed). A backup skips them.
RESTORE_PREFIX = ".dchweb-restore-"


class BackupError(Exception):
    """A backup or restore refused, with the reason in words for operators."""


@dataclass(frozen=True)
class Summary:
    path: Path
    rows: int
    models: int
    data_files: int
    data_bytes: int


# --- What is in a backup -----------------------------------------------------


def backed_up_models() -> list:
    """Every model whose rows a backup holds, in an order a load can follow
    (models with natural keys before the rows that name them)."""
    app_list = [(config, None) for config in apps.get_app_configs()]
    ordered = serializers.sort_dependencies(app_list, allow_cycles=True)
    return [
        model
        for model in ordered
        if model._meta.managed
        and not model._meta.proxy
        and model._meta.label_lower not in LEFT_OUT
        and model._meta.app_label not in LEFT_OUT_APPS
    ]


def secret_fields(model) -> list[str]:
    """The columns of `model` that hold a secret encrypted at rest. By the
    models' convention each one's name ends in `_encrypted` (hosts/models.py)."""
    return [
        field.attname
        for field in model._meta.concrete_fields
        if field.name.endswith("_encrypted")
    ]


def applied_migrations(models) -> dict[str, list[str]]:
    """The migrations applied to this database, for the apps of `models`."""
    labels = {model._meta.app_label for model in models}
    found = {label: [] for label in sorted(labels)}
    for app_label, name in MigrationRecorder(connection).applied_migrations():
        if app_label in found:
            found[app_label].append(name)
    return {label: sorted(names) for label, names in found.items()}


# --- Backup ------------------------------------------------------------------


def backup(path: Path) -> Summary:
    """Write a backup to `path`, which must not exist. A failed backup leaves
    no file behind; a finished one is readable by its owner only."""
    path = Path(path)
    _check_target(path)
    models = backed_up_models()
    # Written beside the target under another name, renamed when whole.
    # mkstemp makes it readable by its owner only: it holds password hashes,
    # token hashes and the encrypted secrets.
    descriptor, partial = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".partial"
    )
    try:
        with (
            os.fdopen(descriptor, "wb") as out,
            tempfile.TemporaryFile(dir=path.parent) as rows_file,
        ):
            manifest = _dump_database(models, rows_file)
            data_files, data_bytes = _write_archive(out, manifest, rows_file)
        os.rename(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)
    return Summary(
        path=path,
        rows=sum(manifest["models"].values()),
        models=len(manifest["models"]),
        data_files=data_files,
        data_bytes=data_bytes,
    )


def _check_target(path: Path) -> None:
    if path.exists():
        raise BackupError(f"{path} exists: a backup never overwrites a file")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a folder: create it first")


def _dump_database(models, rows_file) -> dict:
    """Every row into `rows_file` (JSON lines), and the manifest that says
    what it holds. One transaction: the rows are one moment's."""
    counts = {}
    unreadable = []
    with _snapshot():
        text = io.TextIOWrapper(rows_file, encoding="utf-8", newline="\n")
        for model in models:
            rows = _checked_rows(model, unreadable)
            counts[model._meta.label_lower] = _serialize(rows, text)
        text.flush()
        text.detach()
        migrations = applied_migrations(models)
    if unreadable:
        raise BackupError(
            "the encryption key in use cannot read "
            + _listed(unreadable)
            + ": a backup of them could never be restored. Set "
            "DCHWEB_ENCRYPTION_KEY to the key they were stored with (or "
            "enter those secrets again), then back up"
        )
    rows_file.seek(0)
    digest = hashlib.file_digest(rows_file, "sha256").hexdigest()
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(),
        "database_vendor": connection.vendor,
        "migrations": migrations,
        "models": counts,
        "database_sha256": digest,
        "key_check": crypto.encrypt(KEY_CHECK_TEXT),
    }


@contextmanager
def _snapshot():
    """One transaction; on PostgreSQL at REPEATABLE READ, so that every query
    of the dump sees the same moment (its default, READ COMMITTED, would let
    rows change between two models' queries). SQLite's transaction is one
    snapshot already (and holds writers back until it ends)."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield


def _checked_rows(model, unreadable: list):
    """The model's rows, noting each secret the key in use cannot read."""
    fields = secret_fields(model)
    rows = model._base_manager.order_by("pk").iterator(chunk_size=ROWS_PER_QUERY)
    for row in rows:
        for field in fields:
            if not _opens(getattr(row, field)):
                unreadable.append(f"{model._meta.label_lower} {row.pk} {field}")
        yield row


def _opens(ciphertext: str) -> bool:
    if not ciphertext:
        return True
    try:
        crypto.decrypt(ciphertext)
    except crypto.SecretUnreadable:
        return False
    return True


def _listed(items: list[str], most: int = 5) -> str:
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def _serialize(rows, stream) -> int:
    counted = _Counted(rows)
    serializers.serialize(
        "jsonl",
        counted,
        stream=stream,
        use_natural_foreign_keys=True,
        cls=_ExactEncoder,
    )
    return counted.count


class _ExactEncoder(DjangoJSONEncoder):
    """Django's encoder cuts times to milliseconds (what a JavaScript date
    holds); a restored row keeps its microseconds, as the database had them."""

    def default(self, o):
        if isinstance(o, datetime | time):
            return o.isoformat()
        return super().default(o)


class _Counted:
    """An iterable that counts what went through it."""

    def __init__(self, items):
        self.items = items
        self.count = 0

    def __iter__(self):
        for item in self.items:
            self.count += 1
            yield item


def _write_archive(out, manifest: dict, rows_file) -> tuple[int, int]:
    with tarfile.open(fileobj=out, mode="w|gz", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, MANIFEST, _json_bytes(manifest))
        rows_file.seek(0, os.SEEK_END)
        info = tarfile.TarInfo(DATABASE)
        info.size = rows_file.tell()
        info.mtime = int(datetime.now(UTC).timestamp())
        rows_file.seek(0)
        tar.addfile(info, rows_file)
        end = _add_data_folder(tar, Path(settings.DCHWEB_DATA_DIR))
        _add_bytes(tar, END, _json_bytes(end))
    return end["data_files"], end["data_bytes"]


def _json_bytes(value: dict) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True).encode()


def _add_bytes(tar, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(data))


def _add_data_folder(tar, data_dir: Path) -> dict:
    """Every regular file under the data folder, as it is now. Build logs
    grow while a build runs: each is taken at the size it had when opened.
    A file that goes meanwhile (a finished build's context) is left out."""
    digest = hashlib.sha256()
    files = size = 0
    for path in _data_files(data_dir):
        try:
            source = path.open("rb")
        except FileNotFoundError:
            continue
        with source:
            info = tar.gettarinfo(
                arcname=f"{DATA}/{path.relative_to(data_dir).as_posix()}",
                fileobj=source,
            )
            tar.addfile(info, _Hashed(source, digest, info.size))
        files += 1
        size += info.size
    return {"data_files": files, "data_bytes": size, "data_sha256": digest.hexdigest()}


def _data_files(data_dir: Path):
    if not data_dir.is_dir():
        return
    for folder, subfolders, names in os.walk(data_dir):
        if Path(folder) == data_dir:
            subfolders[:] = [s for s in subfolders if not s.startswith(RESTORE_PREFIX)]
        subfolders.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path


class _Hashed:
    """A reader that hashes what is read through it, `limit` bytes at most
    (what the tar header announced, however much the file grew since)."""

    def __init__(self, source, digest, limit: int):
        self.source = source
        self.digest = digest
        self.left = limit

    def read(self, size: int = -1) -> bytes:
        size = self.left if size < 0 else min(size, self.left)
        data = self.source.read(size)
        self.left -= len(data)
        self.digest.update(data)
        return data


# --- Restore -----------------------------------------------------------------


def restore(path: Path, *, force: bool = False, actor=None) -> Summary:
    """Restore the backup at `path` into this database and data folder.
    Refused (BackupError), with nothing changed, when the file is no whole
    dchweb backup, when this database is at other migrations, when the key in
    use cannot read the backup's secrets, or when the database or the data
    folder holds data and `force` is not given."""
    path = Path(path)
    data_dir = Path(settings.DCHWEB_DATA_DIR)
    models = backed_up_models()
    with _reading(path) as tar:
        manifest = _read_manifest(tar, path)
        _check_manifest(manifest, models)
        with _staging(data_dir) as staging:
            return _load(tar, manifest, models, staging, data_dir, force, actor, path)


@contextmanager
def _reading(path: Path):
    """The backup as a tar stream; a damaged or cut file becomes a clear
    refusal, wherever in the file its damage is met."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    # gzip's own reader rather than tarfile's "r|gz": it checks the stream's
    # CRC and length at the end (see _read_to_the_end); tarfile's does not.
    try:
        with (
            gzip.open(path, "rb") as compressed,
            tarfile.open(fileobj=compressed, mode="r|") as tar,
        ):
            yield tar
    except (
        tarfile.TarError,
        gzip.BadGzipFile,
        EOFError,
        zlib.error,
        UnicodeDecodeError,
    ) as error:
        raise BackupError(
            f"{path} is damaged or cut short, or no dchweb backup: {error}"
        ) from None
    except (DeserializationError, ObjectDoesNotExist, IntegrityError) as error:
        raise BackupError(
            f"{path}: a row of its database does not load: {error}"
        ) from None


def _read_manifest(tar, path: Path) -> dict:
    member = tar.next()
    if member is None or member.name != MANIFEST or not member.isfile():
        raise BackupError(
            f"{path} is no dchweb backup: it does not begin with {MANIFEST}"
        )
    try:
        manifest = json.load(tar.extractfile(member))
    except ValueError:
        raise BackupError(f"{path}: its {MANIFEST} is not JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is no dchweb backup: its {MANIFEST} says otherwise")
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(
            f"{path} is a backup of format version {manifest.get('version')!r}; "
            f"this dchweb reads version {FORMAT_VERSION}"
        )
    if not isinstance(manifest.get("models"), dict):
        raise BackupError(f"{path}: its {MANIFEST} lists no models")
    return manifest


def _check_manifest(manifest: dict, models) -> None:
    _check_migrations(manifest.get("migrations"), applied_migrations(models))
    try:
        readable = crypto.decrypt(str(manifest.get("key_check", ""))) == KEY_CHECK_TEXT
    except crypto.SecretUnreadable:
        readable = False
    if not readable:
        raise BackupError(
            "the encryption key in use cannot read this backup's secrets (its "
            "key check does not open): set DCHWEB_ENCRYPTION_KEY (or, if the "
            "backed-up installation had none, DCHWEB_SECRET_KEY) to the key of "
            "the installation that made the backup. Nothing was restored"
        )


def _check_migrations(theirs, ours: dict) -> None:
    if theirs == ours:
        return
    if not isinstance(theirs, dict):
        raise BackupError(f"the backup's {MANIFEST} lists no migrations")
    differing = sorted(set(theirs) | set(ours))
    lines = [
        f"{label}: the backup at {_last(theirs.get(label))}, "
        f"this database at {_last(ours.get(label))}"
        for label in differing
        if theirs.get(label) != ours.get(label)
    ]
    raise BackupError(
        "this database is not at the migrations the backup was made at ("
        + "; ".join(lines)
        + "). Restore onto a database migrated by the dchweb release that made "
        "the backup, then upgrade and migrate as usual. Nothing was restored"
    )


def _last(names) -> str:
    return names[-1] if names else "no migration"


@contextmanager
def _staging(data_dir: Path):
    """A folder inside the data folder where the backup's files wait for the
    commit; gone afterwards, whatever happened."""
    data_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=RESTORE_PREFIX, dir=data_dir))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _load(tar, manifest, models, staging, data_dir, force, actor, path) -> Summary:
    swap = _Swap(staging, data_dir)
    try:
        with transaction.atomic():
            if not force:
                _refuse_if_holding_data(models, data_dir)
            _clear(models)
            counts = _load_rows(tar, manifest, models)
            end = _load_data_files(tar, staging)
            _record(actor, path, manifest, counts, end, force)
            swap.make()
    except BaseException:
        swap.undo()
        raise
    swap.finish()
    return Summary(
        path=path,
        rows=sum(counts.values()),
        models=len(counts),
        data_files=end["data_files"],
        data_bytes=end["data_bytes"],
    )


def _refuse_if_holding_data(models, data_dir: Path) -> None:
    found = [
        _counted(count, model)
        for model in models
        if model._meta.label_lower not in MADE_BY_A_FRESH_INSTALL
        and (count := model._base_manager.count())
    ]
    files = sum(1 for _ in _data_files(data_dir))
    if files:
        found.append(f"{files} file{'' if files == 1 else 's'} in {data_dir}")
    if found:
        raise BackupError(
            "this installation already holds data ("
            + _listed(found)
            + "): restore onto a freshly migrated database and an empty data "
            "folder, or give --force to replace everything in them. Nothing "
            "was restored"
        )


def _counted(count: int, model) -> str:
    names = model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural
    return f"{count} {names}"


def _clear(models) -> None:
    """Delete every row a backup holds, and the sign-ins. Plain DELETEs in
    any order: the foreign keys Django makes are checked at commit (DEFERRABLE
    INITIALLY DEFERRED on SQLite and PostgreSQL), when the backup's rows are
    in."""
    tables = [apps.get_model(label)._meta.db_table for label in CLEARED_TOO]
    for model in models:
        tables.append(model._meta.db_table)
        tables.extend(
            field.remote_field.through._meta.db_table
            for field in model._meta.local_many_to_many
            if field.remote_field.through._meta.auto_created
        )
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")


def _load_rows(tar, manifest: dict, models) -> dict[str, int]:
    member = tar.next()
    if member is None or member.name != DATABASE or not member.isfile():
        raise BackupError(f"the backup has no {DATABASE} after its {MANIFEST}")
    digest = hashlib.sha256()
    lines = _hashed_lines(tar.extractfile(member), digest)
    counts = dict.fromkeys(manifest.get("models", {}), 0)
    waiting = []
    known = {model._meta.label_lower for model in models}
    for row in serializers.deserialize("jsonl", lines, handle_forward_references=True):
        label = row.object._meta.label_lower
        if label not in known:
            raise BackupError(f"the backup holds rows of {label}, which it should not")
        _check_secrets(row.object)
        row.save()
        if row.deferred_fields:
            waiting.append(row)
        counts[label] = counts.get(label, 0) + 1
    for row in waiting:
        row.save_deferred_fields()
    if digest.hexdigest() != manifest.get("database_sha256"):
        raise BackupError(f"the backup's {DATABASE} is damaged: its SHA-256 differs")
    if counts != manifest.get("models"):
        raise BackupError(
            f"the backup's {DATABASE} does not hold the rows its manifest lists"
        )
    _check_rows_fit(models)
    _reset_sequences(models)
    return counts


def _hashed_lines(source, digest):
    for line in source:
        digest.update(line)
        yield line


def _check_secrets(row) -> None:
    for field in secret_fields(type(row)):
        if not _opens(getattr(row, field)):
            raise BackupError(
                f"the encryption key in use cannot read the secret {field} of "
                f"{row._meta.label_lower} {row.pk} in this backup: set "
                "DCHWEB_ENCRYPTION_KEY to the keys of the installation that "
                "made it (all of them, if it rotated keys). Nothing was restored"
            )


def _check_rows_fit(models) -> None:
    """Every row's foreign keys name a row: checked now, for a clear
    refusal, rather than at commit."""
    try:
        connection.check_constraints(
            table_names=[model._meta.db_table for model in models]
        )
    except IntegrityError as error:
        raise BackupError(f"the backup's rows do not fit together: {error}") from None


def _reset_sequences(models) -> None:
    """PostgreSQL hands out ids from sequences, which rows loaded with their
    own ids did not move: the next id is set past the highest one."""
    statements = connection.ops.sequence_reset_sql(no_style(), models)
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)


def _load_data_files(tar, staging: Path) -> dict:
    digest = hashlib.sha256()
    files = size = 0
    while (member := tar.next()) is not None and member.name != END:
        target = staging / _data_path(member)
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("xb") as out:
                _copy(tar.extractfile(member), out, digest)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise BackupError(
                f"the backup holds {member.name!r} twice, or inside a file: refused"
            ) from None
        os.utime(target, (member.mtime, member.mtime))
        files += 1
        size += member.size
    if member is None:
        raise BackupError(f"the backup is cut short: it has no {END}")
    try:
        end = json.load(tar.extractfile(member))
    except ValueError:
        raise BackupError(f"the backup's {END} is not JSON") from None
    if (
        not isinstance(end, dict)
        or end.get("data_sha256") != digest.hexdigest()
        or (
            end.get("data_files"),
            end.get("data_bytes"),
        )
        != (files, size)
    ):
        raise BackupError("the backup's data files are damaged or incomplete")
    if tar.next() is not None:
        raise BackupError(f"the backup goes on after its {END}")
    _read_to_the_end(tar)
    return end


def _read_to_the_end(tar) -> None:
    """Read what follows the tar's end (its padding) to the end of the
    compressed stream, where gzip checks the CRC and the length of it all: a
    file missing its last bytes is refused."""
    while tar.fileobj.read(COPY_CHUNK):
        pass


def _data_path(member) -> PurePosixPath:
    """The member's path inside the data folder; anything but a plain file or
    folder under data/, or a path that would climb out, is refused."""
    path = PurePosixPath(member.name)
    inside = PurePosixPath(*path.parts[1:]) if len(path.parts) > 1 else None
    if (
        path.parts[:1] != (DATA,)
        or inside is None
        or path.is_absolute()
        or ".." in path.parts
        or not (member.isfile() or member.isdir())
    ):
        raise BackupError(
            f"the backup holds {member.name!r}, which is no plain file or folder "
            f"under {DATA}/: refused"
        )
    return inside


def _copy(source, out, digest) -> None:
    while chunk := source.read(COPY_CHUNK):
        digest.update(chunk)
        out.write(chunk)


def _record(actor, path: Path, manifest: dict, counts: dict, end: dict, force: bool):
    audit.record(
        actor,
        "backup.restored",
        None,
        {
            "file": str(path),
            "made_at": manifest.get("created_at"),
            "made_on": manifest.get("database_vendor"),
            "rows": sum(counts.values()),
            "data_files": end["data_files"],
            "force": force,
        },
        source=AuditEvent.Source.CLI,
    )


class _Swap:
    """The data folder's files changed for the staged ones, by renames inside
    the folder (on one file system, and fine on a mount point), each one
    noted so that a failure (of a rename, or of the commit that follows)
    puts back exactly what was moved."""

    def __init__(self, staging: Path, data_dir: Path):
        self.staging = staging
        self.data_dir = data_dir
        self.set_aside = None
        self.moved = []  # (from, to), in the order done

    def make(self) -> None:
        self.set_aside = Path(
            tempfile.mkdtemp(prefix=RESTORE_PREFIX, dir=self.data_dir)
        )
        for entry in _entries(self.data_dir, skip=(self.staging, self.set_aside)):
            self._move(entry, self.set_aside / entry.name)
        for entry in _entries(self.staging):
            self._move(entry, self.data_dir / entry.name)

    def _move(self, source: Path, target: Path) -> None:
        source.rename(target)
        self.moved.append((source, target))

    def undo(self) -> None:
        for source, target in reversed(self.moved):
            target.rename(source)
        self.moved.clear()
        self.finish()

    def finish(self) -> None:
        """What the data folder held before the restore goes."""
        if self.set_aside is not None:
            shutil.rmtree(self.set_aside, ignore_errors=True)


def _entries(folder: Path, skip=()) -> list[Path]:
    return [entry for entry in sorted(folder.iterdir()) if entry not in skip]
