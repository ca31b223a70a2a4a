"""The audit trail: every mutating action calls `record()`, in the same
transaction as the change it describes, so a rolled-back change leaves no
event and a committed one always has its event."""

from hosts.models import AuditEvent


def record(
    actor,
    action: str,
    obj=None,
    details: dict | None = None,
    *,
    source: str | None = None,
    request=None,
) -> AuditEvent:
    """Record that `actor` (a user, or None for the system) did `action`.

    `source` is ui / api / cli / task; when omitted it is read from `request`
    (an /api/ path means the API, anything else the web UI).
    """
    if source is None:
        if request is None:
            raise ValueError("audit.record() needs a source or a request")
        source = _source_of(request)
    actor = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor else "",
        action=action,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        details=details or {},
        source=source,
        remote_addr=_remote_addr(request),
    )


def _source_of(request) -> str:
    if request.path.startswith("/api/"):
        return AuditEvent.Source.API
    return AuditEvent.Source.UI


def _remote_addr(request) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is whatever the client wants it to be
    # unless a trusted proxy sets it, and we do not assume one.
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit_events(*, action: str = "", actor: str = ""):
    """Audit events, newest first, filtered by action prefix and actor name."""
    events = AuditEvent.objects.all()
    if action:
        events = events.filter(action__startswith=action)
    if actor:
        events = events.filter(actor_name__iexact=actor)
    return events
