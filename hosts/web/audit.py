"""/audit/: the audit trail (admins), filtered by action and actor."""

from django.core.paginator import Paginator
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from hosts.core import audit as audit_trail
from hosts.web.access import admin_required
from hosts.web.htmx import page_or_fragment

AUDIT_PAGE_SIZE = 50


@require_safe
@admin_required("The audit trail is for admins.")
@vary_on_headers("HX-Request")
def audit(request):
    action = request.GET.get("action", "").strip()
    actor = request.GET.get("actor", "").strip()
    events = audit_trail.audit_events(action=action, actor=actor)
    context = {
        "page": Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page")),
        "action": action,
        "actor": actor,
    }
    return page_or_fragment(
        request,
        "hosts/audit/audit.html",
        "hosts/audit/partials/audit_table.html",
        context,
    )
