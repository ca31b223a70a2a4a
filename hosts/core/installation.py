"""This installation's id: the `io.dchweb.installation` label on everything
dchweb creates on an engine. The reconciler touches only objects with it."""

from django.conf import settings

from hosts.models import Installation


def installation_id() -> str:
    """DCHWEB_INSTALLATION_ID if set, else the id stored on first use."""
    if settings.DCHWEB_INSTALLATION_ID:
        return settings.DCHWEB_INSTALLATION_ID
    row, _ = Installation.objects.get_or_create(pk=1)
    return str(row.installation_id)
