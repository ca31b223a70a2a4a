"""API v1 audit trail (admins only); the events come from hosts/core/audit.py."""

from ninja import Field, Query, Router, Schema

from hosts.api.auth import BearerToken, admin_only
from hosts.api.schemas.audit import AuditEventPage
from hosts.api.schemas.common import MAX_LIST_OFFSET, errors
from hosts.core import audit

# Checked before the query is read (hosts/api/auth.py).
router = Router(
    tags=["audit"], auth=BearerToken(admin_only("the audit trail is for admins"))
)


class AuditFilters(Schema):
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=MAX_LIST_OFFSET)
    action: str = Field("", description="action prefix, e.g. `registry.`")
    actor: str = Field("", description="username")


@router.get("/audit-events", response={200: AuditEventPage, **errors(400, 401, 403)})
def list_audit_events(request, filters: Query[AuditFilters]):
    """Admins only. Newest first."""
    events = audit.audit_events(action=filters.action, actor=filters.actor)
    page = events[filters.offset : filters.offset + filters.limit]
    return {
        "count": events.count(),
        "limit": filters.limit,
        "offset": filters.offset,
        "items": list(page),
    }
