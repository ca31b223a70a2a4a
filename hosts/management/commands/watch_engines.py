"""`manage.py watch_engines`: keep the volume ledger current from the engines'
events (hosts/volumes/watcher.py). One process for the installation; runs until
SIGTERM or Ctrl-C."""

import signal
import threading

from django.core.management.base import BaseCommand

from hosts.volumes import watcher


class Command(BaseCommand):
    help = (
        "Follow every endpoint's container and volume events and apply each "
        "to the volume ledger; rescan on (re)connection."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--poll",
            type=float,
            default=60.0,
            help="seconds between looks for new endpoints",
        )

    def handle(self, *args, **options):
        stop = threading.Event()
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: stop.set())
        self.stderr.write("watching the engines' events (Ctrl-C stops)")
        watcher.watch_all(stop, poll_seconds=options["poll"])
