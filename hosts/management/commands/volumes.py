"""`manage.py volumes audit` and `manage.py volumes cleanup` (design.md §4.1)."""

import json

from django.core.management.base import BaseCommand, CommandError

from hosts.api.schemas.volumes import VolumeOut
from hosts.models import AuditEvent, Endpoint
from hosts.volumes import commands as volumes
from hosts.volumes import ledger

CLI = AuditEvent.Source.CLI


class Command(BaseCommand):
    help = "Audit the volumes on the endpoints, and clean up the unused ones."

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        audit = commands.add_parser("audit", help="rescan and list every volume")
        audit.add_argument("--endpoint", help="endpoint name (default: all)")
        audit.add_argument("--json", action="store_true", help="one JSON object")
        cleanup = commands.add_parser(
            "cleanup", help="plan (--dry-run) or remove (--execute) unused volumes"
        )
        cleanup.add_argument("--endpoint", help="endpoint name (default: all)")
        cleanup.add_argument("--status", choices=["orphaned", "dangling"])
        cleanup.add_argument("--older-than-days", type=int)
        cleanup.add_argument("--owner")
        cleanup.add_argument(
            "--volume",
            action="append",
            default=[],
            help="a volume by name (repeat); the only way to include volumes "
            "that are not dchweb's",
        )
        mode = cleanup.add_mutually_exclusive_group(required=True)
        mode.add_argument("--dry-run", action="store_true")
        mode.add_argument("--execute", action="store_true")

    def handle(self, *args, **options):
        endpoint = self._endpoint(options["endpoint"])
        if options["command"] == "audit":
            self._audit(endpoint, as_json=options["json"])
        else:
            self._cleanup(endpoint, options)

    def _endpoint(self, name):
        if not name:
            return None
        endpoint = Endpoint.objects.filter(name=name).first()
        if endpoint is None:
            raise CommandError(f"no endpoint named {name!r}")
        return endpoint

    def _audit(self, endpoint, *, as_json):
        for result in ledger.refresh_all(endpoint.pk if endpoint else None):
            if result.error:
                self.stderr.write(f"{result.endpoint}: not scanned: {result.error}")
        for found in (
            Endpoint.objects.filter(pk=endpoint.pk)
            if endpoint
            else Endpoint.objects.all()
        ):
            ledger.measure_sizes(found)
        rows = ledger.ledger(
            ledger.VolumeFilters(endpoint_id=endpoint.pk if endpoint else None)
        )
        if as_json:
            items = [VolumeOut.from_orm(v).dict() for v in rows.iterator()]
            self.stdout.write(json.dumps({"volumes": items}, default=str))
            return
        for volume in rows.iterator():
            size = "?" if volume.size_bytes is None else str(volume.size_bytes)
            origin = volume.owner_name or volume.last_container or "-"
            self.stdout.write(
                f"{volume.endpoint.name}\t{volume.name}\t{volume.status}\t{size}\t{origin}"
            )

    def _cleanup(self, endpoint, options):
        rule = {
            "endpoint_id": endpoint.pk if endpoint else None,
            "status": options["status"] or "",
            "older_than_days": options["older_than_days"],
            "owner": options["owner"] or "",
            "volume_names": options["volume"],
        }
        try:
            plan = volumes.make_plan(None, rule, source=CLI)
            if options["execute"]:
                plan = volumes.execute(None, plan, now=True, source=CLI)
        except volumes.CleanupInvalid as error:
            raise CommandError(error.message) from None
        verb = "planned" if options["dry_run"] else "result"
        for item in plan.items.select_related("endpoint"):
            outcome = item.result or "planned"
            self.stdout.write(
                f"{verb}\t{item.endpoint.name}\t{item.volume_name}\t{outcome}\t{item.reason}"
            )
        bytes_text = plan.total_bytes if options["dry_run"] else plan.reclaimed_bytes
        self.stderr.write(
            f"plan {plan.pk}: {plan.items.count()} volumes, "
            f"{bytes_text} bytes {'to reclaim' if options['dry_run'] else 'reclaimed'}"
        )
