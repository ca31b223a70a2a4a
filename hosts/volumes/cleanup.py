"""Clean-up plans carried out by a worker: each volume removed exactly as
planned, checked again first, never one in use (an engine's 409 becomes
`skipped_in_use`). Safe to run twice: a removed volume is `not_found`."""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from hosts import engine
from hosts.core import audit, leases
from hosts.core.connections import connection_for
from hosts.models import AuditEvent, CleanupItem, CleanupPlan, Volume
from hosts.volumes import plans

logger = logging.getLogger(__name__)
SYSTEM = AuditEvent.Source.TASK


def run_plan(plan_id, worker="") -> CleanupPlan:
    """Remove exactly the planned volumes that are still unused. Safe to run
    again after a worker died: it goes on with the items not done yet."""
    plan = CleanupPlan.objects.get(pk=plan_id)
    if plan.state != CleanupPlan.State.EXECUTING:
        return plan
    worker = worker or leases.worker_identity("inline")
    if not leases.take(CleanupPlan, plan.pk, worker):
        return plan
    try:
        for item in plan.items.filter(result="").select_related("endpoint"):
            leases.take(CleanupPlan, plan.pk, worker)
            _execute_item(item)
        return _finish_plan(plan)
    finally:
        leases.release(CleanupPlan, plan.pk, worker)


def interrupted_plans(now=None, grace=timedelta(0)):
    now = now or timezone.now()
    return CleanupPlan.objects.filter(
        leases.unowned(now),
        state=CleanupPlan.State.EXECUTING,
        executed_at__lte=now - grace,
    )


def _finish_plan(plan):
    results = {
        row["result"]: row["n"]
        for row in plan.items.values("result").annotate(n=Count("id"))
    }
    reclaimed = plan.items.filter(result=CleanupItem.Result.REMOVED).aggregate(
        total=Sum("size_bytes")
    )["total"]
    with transaction.atomic():
        plan.state = CleanupPlan.State.DONE
        plan.finished_at = timezone.now()
        plan.reclaimed_bytes = reclaimed or 0
        plan.save(update_fields=["state", "finished_at", "reclaimed_bytes"])
        audit.record(
            plan.approved_by,
            "cleanup.executed",
            plan,
            {
                "results": results,
                "reclaimed_bytes": plan.reclaimed_bytes,
                "approved_by": plan.approved_by.get_username()
                if plan.approved_by
                else "",
                "removed": list(
                    plan.items.filter(result=CleanupItem.Result.REMOVED).values_list(
                        "volume_name", flat=True
                    )[:1000]
                ),
            },
            source=SYSTEM,
        )
    return plan


def _execute_item(item):
    connection = connection_for(item.endpoint)
    try:
        users = engine.volume_users(connection, item.volume_name)
        if users:
            result, detail = (
                CleanupItem.Result.SKIPPED_IN_USE,
                f"used by {', '.join(users)}",
            )
        elif engine.remove_volume(connection, item.volume_name):
            result, detail = CleanupItem.Result.REMOVED, ""
        else:
            result, detail = CleanupItem.Result.NOT_FOUND, "already gone"
    except engine.EngineConflict as error:
        result, detail = CleanupItem.Result.SKIPPED_IN_USE, error.message
    except engine.EngineError as error:
        result, detail = CleanupItem.Result.ERROR, error.message
    item.result, item.detail = result, detail[:1000]
    item.save(update_fields=["result", "detail"])
    if result in (CleanupItem.Result.REMOVED, CleanupItem.Result.NOT_FOUND):
        Volume.objects.filter(endpoint=item.endpoint, name=item.volume_name).update(
            present=False
        )


def end_notices(now=None) -> list[int]:
    """Plans whose notice ended go ahead: volumes kept by their owners are
    left alone (KEPT), released and unanswered ones are removed like any
    plan's. Returns the plans to run (the caller hands them to a worker)."""
    now = now or timezone.now()
    ended = CleanupPlan.objects.filter(
        state=CleanupPlan.State.NOTICE, notice_ends_at__lte=now
    )
    return [
        plan_id
        for plan_id in ended.values_list("pk", flat=True)
        if _end_notice(plan_id, now)
    ]


@transaction.atomic
def _end_notice(plan_id, now) -> bool:
    # Locked and read again: two passes at once end it once, and no answer
    # slips in after (plans.answer locks the plan too).
    plan = CleanupPlan.objects.select_for_update().get(pk=plan_id)
    if plan.state != CleanupPlan.State.NOTICE:
        return False
    kept = list(plan.items.filter(result="", answer=CleanupItem.Answer.KEEP))
    for item in kept:
        item.result = CleanupItem.Result.KEPT
        until = f"{item.keep_until:%Y-%m-%d}" if item.keep_until else "later"
        item.detail = f"kept until {until}: {item.answer_reason}"[:1000]
    CleanupItem.objects.bulk_update(kept, ["result", "detail"], batch_size=500)
    answers = {
        row["answer"]: row["n"]
        for row in plan.items.values("answer").annotate(n=Count("id"))
    }
    plan.state = CleanupPlan.State.EXECUTING
    plan.approved_by = plan.planned_by
    plan.executed_at = now
    plan.save(update_fields=["state", "approved_by", "executed_at"])
    audit.record(
        None,
        "cleanup.notice_ended",
        plan,
        {
            "kept": answers.get(CleanupItem.Answer.KEEP, 0),
            "released": answers.get(CleanupItem.Answer.RELEASE, 0),
            "unanswered": answers.get(CleanupItem.Answer.NONE, 0),
        },
        source=SYSTEM,
    )
    return True


def reap_orphaned(days: int):
    """The optional policy (off unless DCHWEB_REAP_ORPHANED_VOLUMES_DAYS):
    this installation's orphaned volumes older than `days`, by the same plan
    and audit trail an admin's clean-up has."""
    plan = plans.make_plan(
        None,
        {"status": Volume.Status.ORPHANED, "older_than_days": days},
        source=SYSTEM,
    )
    if not plan.items.exists():
        return plan
    plans.approve(None, plan, source=SYSTEM)
    return run_plan(plan.pk)
