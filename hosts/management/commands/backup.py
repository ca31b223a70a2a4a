"""`manage.py backup PATH` (hosts/ops/backup.py; docs/deploy.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from hosts.ops import backup


class Command(BaseCommand):
    help = (
        "Write a backup of this installation to PATH (a new .tar.gz file): every "
        "row of the database in a form SQLite and PostgreSQL both load, and the "
        "data folder. Secrets stay encrypted: the backup opens with this "
        "installation's encryption key only, so keep that key too, apart."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="the file to write; must not exist")

    def handle(self, *args, **options):
        try:
            summary = backup.backup(options["path"])
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"backup written to {summary.path}: {summary.rows} rows of "
            f"{summary.models} models, {summary.data_files} data files "
            f"({summary.data_bytes} bytes)"
        )
