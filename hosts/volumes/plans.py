"""Clean-up plans: a dry run that lists each volume with its reason and size,
then approved as it stands. Made by admins (any volume), by developers (their
own volumes left behind) (hosts/volumes/commands.py) and by the
orphaned-volume policy (hosts/volumes/cleanup.py); carried out by
hosts/volumes/cleanup.py.

An admin's plan may go out as a notice first: each owner is told of their
volumes in it and may keep (with a reason, for a time the admin allows) or
release each one until the notice ends; then the plan is carried out, kept
volumes left alone (hosts/volumes/cleanup.py: end_notices)."""

from collections import defaultdict
from dataclasses import replace
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from hosts.core import audit, installation
from hosts.core.errors import Conflict, Forbidden, Invalid, NotFound
from hosts.core.permissions import is_admin
from hosts.models import CleanupItem, CleanupPlan, Notification, Volume
from hosts.notifications import outbox
from hosts.volumes import budgets
from hosts.volumes.ledger import BATCH, VolumeFilters, ledger

# Ages in days beyond a century overflow a date: refused, not a 500.
MAX_OLDER_THAN_DAYS = 36500
# A notice gives owners at least a day and at most a month to answer; an
# owner keeps a volume for at most what the admin allows (a year at most).
MIN_NOTICE_DAYS, MAX_NOTICE_DAYS = 1, 30
DEFAULT_KEEP_DAYS_ALLOWED = 30
MAX_KEEP_DAYS_ALLOWED = 365
# What one notice lists of an owner's volumes (the plan's page lists all).
NOTICE_ITEMS_LISTED = 200
MAX_REASON_CHARS = 500


class CleanupInvalid(Invalid):
    code = "invalid_plan"


class PlanNotDraft(Conflict):
    """A plan is approved once: one that runs or ran cannot be again."""

    code = "invalid_plan"


class NoticeOver(Conflict):
    """Answers are taken while the notice runs, not after."""

    code = "notice_over"


def visible_plans(user):
    """The plans `user` may see: their own; admins all."""
    plans = CleanupPlan.objects.select_related("planned_by")
    return plans if is_admin(user) else plans.filter(planned_by=user)


def get_visible_plan(user, plan_id) -> CleanupPlan:
    """Another developer's plan is "not found", as a missing one (and as a
    malformed id)."""
    found = visible_plans(user).filter(pk=_number_or_none(plan_id)).first()
    if found is None:
        raise NotFound(f"no clean-up plan {plan_id}")
    return found


def get_answerable_item(user, plan_id, item_id) -> CleanupItem:
    """An item of a plan (of any, for None) whose volume `user` owns
    (admins: any item)."""
    items = CleanupItem.objects.select_related("plan", "endpoint")
    if plan_id is not None:
        items = items.filter(plan_id=_number_or_none(plan_id))
    if not is_admin(user):
        items = items.filter(owner_name=user.get_username())
    try:
        return items.get(pk=_number_or_none(item_id))
    except CleanupItem.DoesNotExist:
        raise NotFound(f"no volume of yours with id {item_id} in this plan") from None


# A row id past what the database stores names no row (not a 500).
MAX_ROW_ID = 2**63 - 1


def _number_or_none(value):
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ROW_ID else None


def visible_filters(user, filters: VolumeFilters) -> VolumeFilters:
    """The ledger as `user` may read it: a developer's own volumes only."""
    if is_admin(user):
        return filters
    return replace(filters, only_owner=user.get_username())


def notice_items_of(user, now=None):
    """The volumes of `user` that a running notice asks about."""
    now = now or timezone.now()
    return (
        CleanupItem.objects.filter(
            owner_name=user.get_username(),
            plan__state=CleanupPlan.State.NOTICE,
            plan__notice_ends_at__gt=now,
        )
        .select_related("plan", "endpoint")
        .order_by("plan__notice_ends_at", "plan_id", "id")
    )


def make_plan(actor, rule: dict, *, source=None, request=None) -> CleanupPlan:
    """A dry run: exactly which volumes, why, and how many bytes. Volumes that
    are not dchweb's join only when an admin names them one by one; a
    developer's plan holds their own volumes only. With `notice_days` (an
    admin's), the plan goes to the owners first (send_notice)."""
    rule = dict(rule)
    notice_days = rule.pop("notice_days", None)
    keep_days_allowed = rule.pop("keep_days_allowed", None)
    if notice_days is None and keep_days_allowed is not None:
        raise CleanupInvalid(
            "how long owners may keep a volume (keep_days_allowed) goes with a "
            "notice to them (notice_days)"
        )
    if notice_days is not None:
        _require_notice_rights(actor)
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
    mine = "" if actor is None or is_admin(actor) else actor.get_username()
    if mine:
        _require_own(mine, names, pairs)
        filters = replace(filters, only_owner=mine)
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
        chosen = chosen.filter(managed=True, installation=ours).exclude(_kept_now())
    with transaction.atomic():
        # A developer's plan says whose volumes it picked (their own).
        stored = {**rule, "owner": mine} if mine else rule
        plan = CleanupPlan.objects.create(planned_by=actor, rule=_jsonable(stored))
        items = [
            CleanupItem(
                plan=plan,
                endpoint_id=volume.endpoint_id,
                volume_name=volume.name,
                reason=_reason(volume, named=named),
                size_bytes=volume.size_bytes,
                owner_name=volume.owner_name,
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
        if notice_days is not None:
            plan = send_notice(
                actor,
                plan,
                notice_days,
                keep_days_allowed,
                source=source,
                request=request,
            )
    return plan


def _require_notice_rights(actor):
    if actor is None or not is_admin(actor):
        raise Forbidden("Only an admin may send a clean-up plan to the owners first.")


def _require_own(owner, names, pairs):
    """A developer names only their own volumes: any other is not found."""
    own = Volume.objects.filter(present=True, managed=True, owner_name=owner)
    found = set(own.filter(name__in=names).values_list("name", flat=True))
    for name in names:
        if name not in found:
            raise NotFound(f"no volume {name} of yours")
    found_pairs = set(
        own.filter(
            endpoint_id__in={endpoint_id for endpoint_id, _ in pairs},
            name__in={name for _, name in pairs},
        ).values_list("endpoint_id", "name")
    )
    for pair in pairs:
        if pair not in found_pairs:
            raise NotFound(f"no volume {pair[1]} of yours")


def _kept_now():
    """A volume its owner kept, until the time they kept it for: a rule
    passes it over."""
    return Exists(
        CleanupItem.objects.filter(
            endpoint_id=OuterRef("endpoint_id"),
            volume_name=OuterRef("name"),
            answer=CleanupItem.Answer.KEEP,
            keep_until__gt=timezone.now(),
        )
    )


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


# --- Notices: the owners answer first -------------------------------------------------


def _days(value, low, high, what):
    whole = isinstance(value, int) and not isinstance(value, bool)
    if not whole or not low <= value <= high:
        raise CleanupInvalid(f"{what} is a whole number of days, {low} to {high}")
    return value


@transaction.atomic
def send_notice(
    actor,
    plan: CleanupPlan,
    notice_days,
    keep_days_allowed=None,
    *,
    source=None,
    request=None,
) -> CleanupPlan:
    """An admin's draft plan goes to its volumes' owners: each is told once,
    with their volumes, and may keep or release each until the notice ends."""
    _require_notice_rights(actor)
    notice_days = _days(notice_days, MIN_NOTICE_DAYS, MAX_NOTICE_DAYS, "the notice")
    if keep_days_allowed is None:
        keep_days_allowed = DEFAULT_KEEP_DAYS_ALLOWED
    keep_days_allowed = _days(
        keep_days_allowed,
        1,
        MAX_KEEP_DAYS_ALLOWED,
        "the longest an owner may keep a volume",
    )
    plan = CleanupPlan.objects.select_for_update().get(pk=plan.pk)
    if plan.state != CleanupPlan.State.DRAFT:
        raise PlanNotDraft(f"this plan is {plan.state}: make a new one")
    plan.state = CleanupPlan.State.NOTICE
    plan.notice_days = notice_days
    plan.notice_ends_at = timezone.now() + timedelta(days=notice_days)
    plan.keep_days_allowed = keep_days_allowed
    plan.save(
        update_fields=["state", "notice_days", "notice_ends_at", "keep_days_allowed"]
    )
    told = _tell_owners(plan)
    audit.record(
        actor,
        "cleanup.notice_sent",
        plan,
        {
            "notice_days": notice_days,
            "notice_ends_at": plan.notice_ends_at.isoformat(),
            "keep_days_allowed": keep_days_allowed,
            "owners_told": told,
        },
        source=source,
        request=request,
    )
    return plan


def _tell_owners(plan) -> list[str]:
    """One notification per owner dchweb knows, with their volumes. A volume
    of nobody dchweb knows has nobody to answer: it goes unanswered."""
    by_owner = defaultdict(list)
    for item in plan.items.exclude(owner_name="").select_related("endpoint"):
        by_owner[item.owner_name].append(item)
    users = get_user_model().objects.filter(username__in=list(by_owner))
    told = []
    for user in users.order_by("username"):
        items = by_owner[user.get_username()]
        outbox.emit(
            Notification.Event.CLEANUP_NOTICE,
            notice_object(plan, user.get_username(), items),
            owner=user,
        )
        told.append(user.get_username())
    return told


def notice_object(plan, owner_name, items) -> dict:
    """The notice as one owner reads it (the API's words for plan and items)."""
    size = sum(item.size_bytes or 0 for item in items)
    ends = timezone.localtime(plan.notice_ends_at)
    return {
        "id": plan.pk,
        "name": f"clean-up plan {plan.pk}",
        "owner": owner_name,
        "notice_ends_at": plan.notice_ends_at.isoformat(),
        "keep_days_allowed": plan.keep_days_allowed,
        "volume_count": len(items),
        "total_bytes": size,
        "items": [
            {
                "id": item.pk,
                "endpoint": item.endpoint.name,
                "volume_name": item.volume_name,
                "size_bytes": item.size_bytes,
                "reason": item.reason,
            }
            for item in items[:NOTICE_ITEMS_LISTED]
        ],
        "summary": (
            f"{len(items)} of your volumes ({filesizeformat(size)}) will be "
            f"removed after {ends:%Y-%m-%d %H:%M} unless you keep them: answer "
            "on the volumes page."
        ),
    }


@transaction.atomic
def answer(
    actor,
    item: CleanupItem,
    choice: str,
    *,
    reason: str = "",
    keep_days=None,
    source=None,
    request=None,
) -> CleanupItem:
    """The owner's (or an admin's) answer for one volume of a notice: keep it
    (with a reason, for up to the days the admin allows) or release it. An
    answer may change while the notice runs; none is taken after."""
    plan = CleanupPlan.objects.select_for_update().get(pk=item.plan_id)
    item = CleanupItem.objects.select_related("endpoint").get(pk=item.pk)
    now = timezone.now()
    if plan.state != CleanupPlan.State.NOTICE or now >= plan.notice_ends_at:
        raise NoticeOver(
            "The notice for this clean-up has ended: answers are no longer taken."
        )
    reason = (reason or "").strip()
    if len(reason) > MAX_REASON_CHARS:
        raise CleanupInvalid(
            f"the reason is at most {MAX_REASON_CHARS} characters", "reason"
        )
    if choice == CleanupItem.Answer.KEEP:
        if not reason:
            raise CleanupInvalid("say why you keep this volume", "reason")
        allowed = plan.keep_days_allowed or DEFAULT_KEEP_DAYS_ALLOWED
        keep_days = _days(keep_days, 1, allowed, "the time to keep it")
        _refuse_keep_past_budget(item)
        item.keep_until = now + timedelta(days=keep_days)
    elif choice == CleanupItem.Answer.RELEASE:
        item.keep_until = None
    else:
        raise CleanupInvalid("the answer is Keep or Release", "answer")
    item.answer, item.answer_reason, item.answered_at = choice, reason, now
    item.save(update_fields=["answer", "answer_reason", "keep_until", "answered_at"])
    audit.record(
        actor,
        f"cleanup.{'kept' if choice == CleanupItem.Answer.KEEP else 'released'}",
        plan,
        {
            "volume": item.volume_name,
            "endpoint": item.endpoint.name,
            "owner": item.owner_name,
            "reason": reason,
            "keep_until": item.keep_until.isoformat() if item.keep_until else "",
        },
        source=source,
        request=request,
    )
    return item


def _refuse_keep_past_budget(item):
    """Keeping counts against the owner's budget for kept volumes: past it,
    refused with the budget's words (what is used, what to remove). A volume
    left behind counts as kept already (ledger.KEPT_BY_OWNER): no extra."""
    owner = get_user_model().objects.filter(username=item.owner_name).first()
    if owner is not None:
        budgets.check_keep(owner)
