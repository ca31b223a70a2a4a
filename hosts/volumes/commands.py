"""The volume ledger's request side: clean-up plans made, sent to the owners
as a notice, answered, approved and handed to a worker
(hosts/volumes/cleanup.py carries them out)."""

from django.db import transaction

from hosts.core.queue import enqueue_on_commit
from hosts.models import CleanupPlan
from hosts.volumes import cleanup, tasks
from hosts.volumes.plans import CleanupInvalid as CleanupInvalid
from hosts.volumes.plans import answer as answer
from hosts.volumes.plans import approve
from hosts.volumes.plans import get_answerable_item as get_answerable_item
from hosts.volumes.plans import get_visible_plan as get_visible_plan
from hosts.volumes.plans import make_plan as make_plan
from hosts.volumes.plans import notice_items_of as notice_items_of
from hosts.volumes.plans import send_notice as send_notice
from hosts.volumes.plans import visible_filters as visible_filters


def execute(
    actor, plan: CleanupPlan, *, now=False, source=None, request=None
) -> CleanupPlan:
    """Approve the plan and run it: in a worker, or `now` (the command line).
    Each volume is checked again when its turn comes."""
    with transaction.atomic():
        plan = approve(actor, plan, source=source, request=request)
        if not now:
            enqueue_on_commit(tasks.execute_cleanup, plan.pk)
    return cleanup.run_plan(plan.pk) if now else plan
