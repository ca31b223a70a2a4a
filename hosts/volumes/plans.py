"""Clean-up plans: a dry run that lists each volume with its reason and size,
then approved as it stands. Made by admins (hosts/volumes/commands.py) and by
the orphaned-volume policy (hosts/volumes/cleanup.py); carried out by
hosts/volumes/cleanup.py."""

from django.db import transaction
from django.utils import timezone

from hosts.core import audit, installation
from hosts.core.errors import Conflict, Invalid
from hosts.models import CleanupItem, CleanupPlan, Volume
from hosts.volumes.ledger import BATCH, VolumeFilters, ledger

# Ages in days beyond a century overflow a date: refused, not a 500.
MAX_OLDER_THAN_DAYS = 36500


class CleanupInvalid(Invalid):
    code = "invalid_plan"


class PlanNotDraft(Conflict):
    """A plan is approved once: one that runs or ran cannot be again."""

    code = "invalid_plan"


def make_plan(actor, rule: dict, *, source=None, request=None) -> CleanupPlan:
    """A dry run: exactly which volumes, why, and how many bytes. Volumes that
    are not dchweb's join only when named one by one."""
    names = [str(name) for name in rule.get("volume_names") or []]
    pairs = _endpoint_name_pairs(rule.get("volumes") or [])
    named = bool(names or pairs)
    status = rule.get("status") or ("" if named else Volume.Status.ORPHANED)
    if status and status not in Volume.Status.values:
        raise CleanupInvalid(f"status is one of {', '.join(Volume.Status.values)}")
    if status == Volume.Status.IN_USE:
        raise CleanupInvalid("volumes in use are never cleaned up")
    older = rule.get("older_than_days")
    if older is not None and (
        not isinstance(older, int) or not 0 <= older <= MAX_OLDER_THAN_DAYS
    ):
        raise CleanupInvalid(
            f"older_than_days is a whole number of days, 0 to {MAX_OLDER_THAN_DAYS}"
        )
    filters = VolumeFilters(
        endpoint_id=rule.get("endpoint_id"),
        status=status,
        owner=rule.get("owner") or "",
        older_than_days=older,
    )
    chosen = ledger(filters).exclude(status=Volume.Status.IN_USE)
    # A rule picks only this installation's volumes; any other volume must be
    # named one by one.
    if names:
        chosen = chosen.filter(name__in=names)
    if pairs:
        chosen = chosen.filter(
            endpoint_id__in={endpoint_id for endpoint_id, _ in pairs},
            name__in={name for _, name in pairs},
        )
    if not named:
        ours = installation.installation_id()
        chosen = chosen.filter(managed=True, installation=ours)
    with transaction.atomic():
        plan = CleanupPlan.objects.create(planned_by=actor, rule=_jsonable(rule))
        items = [
            CleanupItem(
                plan=plan,
                endpoint_id=volume.endpoint_id,
                volume_name=volume.name,
                reason=_reason(volume, named=named),
                size_bytes=volume.size_bytes,
            )
            for volume in chosen.iterator(chunk_size=BATCH)
            # Names on other endpoints than their own pair's are not chosen.
            if not pairs or (volume.endpoint_id, volume.name) in pairs
        ]
        CleanupItem.objects.bulk_create(items, batch_size=BATCH)
        plan.total_bytes = sum(item.size_bytes or 0 for item in items)
        plan.save(update_fields=["total_bytes"])
        audit.record(
            actor,
            "cleanup.planned",
            plan,
            {"rule": plan.rule, "volumes": len(items), "bytes": plan.total_bytes},
            source=source,
            request=request,
        )
    return plan


def _endpoint_name_pairs(values) -> set[tuple[int, str]]:
    """`volumes`: [[endpoint_id, name], ...], volumes chosen one by one on
    any endpoints (a name may exist on several)."""
    try:
        return {(int(endpoint_id), str(name)) for endpoint_id, name in values}
    except (TypeError, ValueError):
        raise CleanupInvalid("volumes is a list of [endpoint_id, name] pairs") from None


def _jsonable(rule):
    return {key: value for key, value in rule.items() if value not in (None, "", [])}


def _reason(volume, *, named):
    since = volume.detached_since or volume.first_seen
    where = f"not attached since {since:%Y-%m-%d %H:%M}"
    if volume.managed:
        whose = (
            f"dchweb's ({volume.role or 'volume'} of {volume.owner_name or 'unknown'})"
        )
    else:
        whose = "named by an admin"
        if volume.last_container:
            whose += f"; from container {volume.last_container} ({volume.last_image})"
    return f"{volume.status}: {whose}, {where}"[:200]


@transaction.atomic
def approve(actor, plan: CleanupPlan, *, source=None, request=None) -> CleanupPlan:
    """Approve a draft plan as it stands: it is executing from now on."""
    plan = CleanupPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.state != CleanupPlan.State.DRAFT:
        raise PlanNotDraft(f"this plan is {plan.state}: make a new one")
    plan.state = CleanupPlan.State.EXECUTING
    plan.approved_by = actor
    plan.executed_at = timezone.now()
    plan.save(update_fields=["state", "approved_by", "executed_at"])
    audit.record(actor, "cleanup.approved", plan, source=source, request=request)
    return plan
