"""API v1 volume ledger and clean-up plans (admins only)."""

from ninja import Field, Query, Router, Schema, Status

from hosts.api.auth import BearerToken, admin_only
from hosts.api.lookups import get_or_404
from hosts.api.schemas.common import MAX_LIST_OFFSET, RowId, errors
from hosts.api.schemas.volumes import (
    CleanupPlanIn,
    CleanupPlanOut,
    VolumePage,
)
from hosts.models import CleanupPlan, Volume
from hosts.volumes import commands as volumes
from hosts.volumes import ledger, tasks
from hosts.volumes.plans import MAX_OLDER_THAN_DAYS

# Every operation here is an admin's: checked before the input is read
# (hosts/api/auth.py).
router = Router(
    tags=["volumes"], auth=BearerToken(admin_only("the volume ledger is for admins"))
)

ADMIN_ERRORS = errors(400, 401, 403)


class VolumeQuery(Schema):
    endpoint_id: RowId | None = None
    status: Volume.Status | None = None
    owner: str = ""
    managed: bool | None = None
    older_than_days: int | None = Field(None, ge=0, le=MAX_OLDER_THAN_DAYS)
    limit: int = Field(100, ge=1, le=1000)
    offset: int = Field(0, ge=0, le=MAX_LIST_OFFSET)


@router.get("/volumes", response={200: VolumePage, **ADMIN_ERRORS})
def list_volumes(request, query: Query[VolumeQuery]):
    """Volumes the engines have now, as of the last refresh; with the bytes
    that could be reclaimed (not in use) per owner and per endpoint."""
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
    endpoint_id: RowId | None = None


@router.post("/volumes/refresh", response={202: dict, **ADMIN_ERRORS})
def refresh_volumes(request, payload: RefreshIn):
    """Rescan in the background (then sizes); read /volumes afterwards."""
    tasks.refresh_volumes.delay(payload.endpoint_id)
    return Status(202, {"queued": True, "endpoint_id": payload.endpoint_id})


@router.post(
    "/cleanup-plans",
    response={201: CleanupPlanOut, **ADMIN_ERRORS},
    summary="Plan a clean-up (dry run)",
)
def create_cleanup_plan(request, payload: CleanupPlanIn):
    plan = volumes.make_plan(request.auth, payload.dict(), request=request)
    return Status(201, plan)


@router.get(
    "/cleanup-plans/{plan_id}",
    response={200: CleanupPlanOut, **errors(400, 401, 403, 404)},
)
def get_cleanup_plan(request, plan_id: int):
    return _plan_or_404(plan_id)


@router.post(
    "/cleanup-plans/{plan_id}/execute",
    response={202: CleanupPlanOut, **errors(400, 401, 403, 404, 409)},
    summary="Execute exactly that plan",
)
def execute_cleanup_plan(request, plan_id: int):
    """Each volume is checked again: attached now → skipped_in_use, gone →
    not_found. 409 if the plan was executed already."""
    plan = _plan_or_404(plan_id)
    plan = volumes.execute(request.auth, plan, request=request)
    return Status(202, plan)


def _plan_or_404(plan_id):
    return get_or_404(CleanupPlan, plan_id, f"no clean-up plan {plan_id}")
