"""Deleting a row that others may still use: endpoints and registries are
deleted by one rule (hosts/endpoints/commands.py, hosts/registries/commands.py)."""

from django.db import transaction
from django.db.models import ProtectedError

from hosts.core import audit


def delete_unless_used(
    actor, row, *, action, details, uses_of, refused, source=None, request=None
) -> None:
    """Delete `row`, audited as `action` with `details`, in one transaction
    with the row locked, unless `uses_of(row)` names what still uses it (in
    words): then `refused(row, reasons)` is raised, and nothing is deleted
    or audited. A row the database protects that `uses_of` does not know of
    is refused the same way."""
    with transaction.atomic():
        row = type(row).objects.select_for_update().get(pk=row.pk)
        reasons = uses_of(row)
        if reasons:
            raise refused(row, reasons)
        audit.record(actor, action, row, details, source=source, request=request)
        try:
            row.delete()
        except ProtectedError as error:  # raised before any row is deleted
            count = len(list(error.protected_objects))
            others = "1 other record" if count == 1 else f"{count} other records"
            raise refused(row, [others]) from None
