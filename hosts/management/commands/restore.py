"""`manage.py restore PATH` (hosts/ops/backup.py; docs/deploy.md)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from hosts.ops import backup


class Command(BaseCommand):
    help = (
        "Restore a backup made by `manage.py backup` into this database and data "
        "folder, in one transaction: all of it or nothing. Stop the web, the "
        "workers and beat first. Refused when the encryption key in use cannot "
        "read the backup's secrets, and when this installation holds data "
        "(unless --force)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path, help="the backup file")
        parser.add_argument(
            "--force",
            action="store_true",
            help="replace whatever the database and the data folder hold",
        )

    def handle(self, *args, **options):
        try:
            summary = backup.restore(options["path"], force=options["force"])
        except backup.BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"restored {summary.path}: {summary.rows} rows of {summary.models} "
            f"models, {summary.data_files} data files ({summary.data_bytes} bytes)"
        )
