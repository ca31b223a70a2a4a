"""API v1 volume ledger and clean-up plans: developers see and clean up
their own volumes, admins all; an admin's plan may ask the owners first
(notice_days), and each owner answers for their volumes (keep / release)."""

from ninja import Field, Query, Router, Schema, Status

from hosts.api.auth import BearerToken, admin_only, visible
from hosts.api.schemas.common import MAX_LIST_OFFSET, RowId, errors
from hosts.api.schemas.volumes import (
    BudgetOut,
    CleanupItemOut,
    CleanupPlanIn,
    CleanupPlanOut,
    KeepIn,
    VolumePage,
)
from hosts.models import CleanupItem, Volume
from hosts.volumes import budgets, ledger, tasks
from hosts.volumes import commands as volumes
from hosts.volumes.plans import MAX_OLDER_THAN_DAYS

# Anyone signed in: what they may see is narrowed below (their own volumes
# and plans); checked before the input is read (hosts/api/auth.py).
router = Router(tags=["volumes"], auth=BearerToken())
ADMINS = BearerToken(admin_only("rescanning the engines is for admins"))
ONE_PLAN = BearerToken(visible("plan_id", volumes.get_visible_plan))


def _answerable(request, user):
    kwargs = request.resolver_match.kwargs
    volumes.get_answerable_item(user, kwargs["plan_id"], kwargs["item_id"])


ONE_ITEM = BearerToken(_answerable)

ADMIN_ERRORS = errors(400, 401, 403)
LIST_ERRORS = errors(400, 401, 403)


class VolumeQuery(Schema):
    endpoint_id: RowId | None = None
    status: Volume.Status | None = None
    owner: str = ""
    managed: bool | None = None
    older_than_days: int | None = Field(None, ge=0, le=MAX_OLDER_THAN_DAYS)
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_LIST_OFFSET)


@router.get("/volumes", response={200: VolumePage, **LIST_ERRORS})
def list_volumes(request, query: Query[VolumeQuery]):
    """Volumes the engines have now, as of the last refresh; with the bytes
    that could be reclaimed (not in use) per owner and per endpoint. A
    developer's own volumes only; an admin's all."""
    filters = volumes.visible_filters(
        request.auth,
        ledger.VolumeFilters(
            endpoint_id=query.endpoint_id,
            status=query.status or "",
            owner=query.owner,
            managed=query.managed,
            older_than_days=query.older_than_days,
        ),
    )
    # Computed once per change of the ledger (cached under its stamp).
    summary = ledger.totals(filters)
    found = ledger.ledger(filters)
    return {
        "count": summary["count"],
        "limit": query.limit,
        "offset": query.offset,
        "reclaimable_bytes": summary["reclaimable_bytes"],
        "by_owner": [_total(row, "owner_name") for row in summary["by_owner"]],
        "by_endpoint": [
            _total(row, "endpoint__name") for row in summary["by_endpoint"]
        ],
        "items": list(found[query.offset : query.offset + query.limit]),
    }


def _total(row, key):
    return {"key": row[key] or "", "volumes": row["volumes"], "bytes": row["bytes"]}


class RefreshIn(Schema):
    endpoint_id: RowId | None = None


@router.get("/volumes/budget", response={200: BudgetOut, **errors(401)})
def my_budget(request):
    """The volumes you keep (cache volumes, and what your removed build hosts
    left) against your budget, and the largest of them: what to remove first.
    Past the budget, build hosts and builds that keep volumes get 409
    `over_budget`."""
    shown = budgets.standing_with_largest(request.auth)
    state = shown["budget"]
    return {
        "used_bytes": state.used_bytes,
        "budget_bytes": state.budget_bytes,
        "percent": state.percent,
        "warned": state.warned,
        "over": state.over,
        "largest": shown["largest"],
    }


@router.post("/volumes/refresh", response={202: dict, **ADMIN_ERRORS}, auth=ADMINS)
def refresh_volumes(request, payload: RefreshIn):
    """Rescan in the background (then sizes); read /volumes afterwards."""
    tasks.refresh_volumes.delay(payload.endpoint_id)
    return Status(202, {"queued": True, "endpoint_id": payload.endpoint_id})


@router.post(
    "/cleanup-plans",
    response={201: CleanupPlanOut, **errors(400, 401, 403, 404)},
    summary="Plan a clean-up (dry run)",
)
def create_cleanup_plan(request, payload: CleanupPlanIn):
    """A developer's plan holds their own volumes only (one named that is
    not theirs: 404). An admin's may go to the owners first: notice_days."""
    plan = volumes.make_plan(request.auth, payload.dict(), request=request)
    return Status(201, plan)


@router.get(
    "/cleanup-plans/{plan_id}",
    response={200: CleanupPlanOut, **errors(400, 401, 403, 404)},
    auth=ONE_PLAN,
)
def get_cleanup_plan(request, plan_id: int):
    return volumes.get_visible_plan(request.auth, plan_id)


@router.post(
    "/cleanup-plans/{plan_id}/execute",
    response={202: CleanupPlanOut, **errors(400, 401, 403, 404, 409)},
    summary="Execute exactly that plan",
    auth=ONE_PLAN,
)
def execute_cleanup_plan(request, plan_id: int):
    """Each volume is checked again: attached now → skipped_in_use, gone →
    not_found. 409 if the plan was executed already (or went to the owners
    as a notice: it runs when the notice ends)."""
    plan = volumes.get_visible_plan(request.auth, plan_id)
    plan = volumes.execute(request.auth, plan, request=request)
    return Status(202, plan)


ANSWER_ERRORS = errors(400, 401, 403, 404, 409)


@router.post(
    "/cleanup-plans/{plan_id}/items/{item_id}/keep",
    response={200: CleanupItemOut, **ANSWER_ERRORS},
    summary="Keep a volume a notice asks about",
    auth=ONE_ITEM,
)
def keep_cleanup_item(request, plan_id: int, item_id: int, payload: KeepIn):
    """The volume's owner (or an admin) keeps it, with a reason, for up to
    the plan's keep_days_allowed days; 409 after the notice ended or past
    the owner's budget."""
    item = volumes.get_answerable_item(request.auth, plan_id, item_id)
    return volumes.answer(
        request.auth,
        item,
        CleanupItem.Answer.KEEP,
        reason=payload.reason,
        keep_days=payload.days,
        request=request,
    )


@router.post(
    "/cleanup-plans/{plan_id}/items/{item_id}/release",
    response={200: CleanupItemOut, **ANSWER_ERRORS},
    summary="Release a volume a notice asks about",
    auth=ONE_ITEM,
)
def release_cleanup_item(request, plan_id: int, item_id: int):
    """The volume's owner (or an admin) lets it go: removed when the notice
    ends. 409 after the notice ended."""
    item = volumes.get_answerable_item(request.auth, plan_id, item_id)
    return volumes.answer(
        request.auth, item, CleanupItem.Answer.RELEASE, request=request
    )
