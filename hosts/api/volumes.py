"""API v1 volume ledger and clean-up plans (admins only)."""

from ninja import Field, Query, Router, Schema, Status

from hosts.api.errors import MAX_OFFSET, answering, forbidden, not_found
from hosts.api.schemas import (
    MAX_DAYS,
    CleanupPlanIn,
    CleanupPlanOut,
    ErrorOut,
    VolumePage,
)
from hosts.core.permissions import is_admin
from hosts.models import CleanupPlan, Volume
from hosts.volumes import commands as volumes
from hosts.volumes import ledger, tasks

router = Router(tags=["volumes"])

ADMIN_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut}


def _admin_only(request):
    if not is_admin(request.auth):
        raise forbidden("the volume ledger is for admins")


class VolumeQuery(Schema):
    endpoint_id: int | None = None
    status: Volume.Status | None = None
    owner: str = ""
    managed: bool | None = None
    older_than_days: int | None = Field(None, ge=0, le=MAX_DAYS)
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_OFFSET)


@router.get("/volumes", response={200: VolumePage, **ADMIN_ERRORS})
def list_volumes(request, query: Query[VolumeQuery]):
    """Volumes the engines have now, as of the last refresh; with the bytes
    that could be reclaimed (not in use) per owner and per endpoint."""
    _admin_only(request)
    filters = ledger.VolumeFilters(
        endpoint_id=query.endpoint_id,
        status=query.status or "",
        owner=query.owner,
        managed=query.managed,
        older_than_days=query.older_than_days,
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
    endpoint_id: int | None = None


@router.post("/volumes/refresh", response={202: dict, **ADMIN_ERRORS})
def refresh_volumes(request, payload: RefreshIn):
    """Rescan in the background (then sizes); read /volumes afterwards."""
    _admin_only(request)
    tasks.refresh_volumes.delay(payload.endpoint_id)
    return Status(202, {"queued": True, "endpoint_id": payload.endpoint_id})


@router.post(
    "/cleanup-plans",
    response={201: CleanupPlanOut, 400: ErrorOut, **ADMIN_ERRORS},
    summary="Plan a clean-up (dry run)",
)
def create_cleanup_plan(request, payload: CleanupPlanIn):
    _admin_only(request)
    with answering((volumes.CleanupInvalid, 400, "invalid_plan")):
        plan = volumes.make_plan(request.auth, payload.dict(), request=request)
    return Status(201, plan)


@router.get(
    "/cleanup-plans/{plan_id}",
    response={200: CleanupPlanOut, 404: ErrorOut, **ADMIN_ERRORS},
)
def get_cleanup_plan(request, plan_id: int):
    _admin_only(request)
    return _plan_or_404(plan_id)


@router.post(
    "/cleanup-plans/{plan_id}/execute",
    response={202: CleanupPlanOut, 404: ErrorOut, 409: ErrorOut, **ADMIN_ERRORS},
    summary="Execute exactly that plan",
)
def execute_cleanup_plan(request, plan_id: int):
    """Each volume is checked again: attached now → skipped_in_use, gone →
    not_found. 409 if the plan was executed already."""
    _admin_only(request)
    plan = _plan_or_404(plan_id)
    with answering((volumes.CleanupInvalid, 409, None)):
        plan = volumes.execute(request.auth, plan, request=request)
    return Status(202, plan)


def _plan_or_404(plan_id):
    plan = CleanupPlan.objects.filter(pk=plan_id).first()
    if plan is None:
        raise not_found(f"no clean-up plan {plan_id}")
    return plan
