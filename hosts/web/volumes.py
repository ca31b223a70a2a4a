"""The volumes page: for admins the whole ledger, for a developer the volumes
they left behind; with filters, sort, pages and totals; a background rescan
(admins) the page follows until it is done; clean-up plans (a dry run) and
their execution, followed until done (a developer's: of their own volumes);
and the volumes a notice asks their owner about, answered Keep or Release.

Views do HTTP only: hosts/volumes/ledger.py reads the ledger and plans and runs the
clean-up. An HTMX request gets the fragment it swaps, any other the page.
"""

import math
from datetime import UTC, datetime, timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, F, Max, Q
from django.db.models.functions import Coalesce
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)
from django.views.decorators.vary import vary_on_headers
from kombu.exceptions import OperationalError

from hosts.core.permissions import is_admin
from hosts.models import CleanupItem, CleanupPlan, Endpoint, Volume
from hosts.volumes import budgets, caches, ledger, tasks
from hosts.volumes import commands as volumes
from hosts.web import errors
from hosts.web.access import admin_required
from hosts.web.forms import SORT_COLUMNS, VolumeFilterForm
from hosts.web.htmx import wants_partial
from hosts.web.submissions import once
from hosts.web.words import VOLUME_STATUS_WORDS, cleanup_rule_words

PAGE_SIZE = 50
MINUTE = timedelta(minutes=1)
TOTALS_TEMPLATE = "hosts/volumes/partials/volume_totals.html"
FILTERS_TEMPLATE = "hosts/volumes/partials/volume_filters.html"
ROWS_TEMPLATE = "hosts/volumes/partials/volume_rows.html"
# A plan of thousands of volumes is listed in part; its counts are whole.
PLAN_ROWS_SHOWN = 500
MAX_SELECTED = 1000
# The refresh fragment polls until the rescan shows, and gives up after this.
REFRESH_GIVE_UP_SECONDS = 120
# After the listing, how long to wait for sizes (an engine may report none).
SIZES_GRACE_SECONDS = 20
# An executing plan is followed this long; the reconciler resumes a stuck one.
EXECUTE_FOLLOW = timedelta(minutes=10)
# Sent (HX-Trigger) when a rescan or a clean-up finished: the ledger reloads.
LEDGER_CHANGED = "volumes-changed"
QUEUE_DOWN = "The task queue does not answer: is Redis up? Try again later."
# What a row of the table shows, read as plain values (a page of model
# instances, with their endpoint and build host, cost more than its query).
ROW_FIELDS = (
    "pk",
    "name",
    "endpoint__name",
    "status",
    "managed",
    "anonymous",
    "owner_name",
    "role",
    "build_host_id",
    "build_host__name",
    "last_container",
    "last_image",
    "attached_to",
    "detached_since",
    "size_bytes",
    "size_measured_at",
    "created_on_engine",
    "born",
)
STATUS_WORDS = dict(Volume.Status.choices)

ADMINS_ONLY = admin_required("Rescanning the engines is for admins.")
NOTICES_TEMPLATE = "hosts/volumes/partials/my_notices.html"
# The notices a page lists at most (the API lists each plan's all).
NOTICES_SHOWN = 100

# /volumes/ --------------------------------------------------------------------


@require_safe
@vary_on_headers("HX-Request")
def volume_list(request):
    """The ledger (a developer's: their own volumes): filters, sort, 50 a
    page, totals. The fragment (totals and table) reloads itself when a
    rescan or a clean-up finishes."""
    form = VolumeFilterForm(request.GET)
    form.is_valid()
    partial = wants_partial(request)
    context = _ledger_context(request, form, with_owners=not partial)
    if partial:
        return render(request, "hosts/volumes/partials/volume_ledger.html", context)
    context["filters_html"] = _filters_html(request, form, context["totals"])
    context.update(budgets.standing_with_largest(request.user))
    context["refresh"] = {"state": "idle"}
    context["plan"] = None
    context.update(notices_context(request.user))
    if is_admin(request.user):
        context["build_caches"] = _build_caches(context["totals"])
    return render(request, "hosts/volumes/volumes.html", context)


def _build_caches(summary):
    """Admins: each owner's build caches and their bytes, against the budget;
    read once per state of the ledger, like the totals."""
    budget = caches.budget_bytes()
    owners = ledger.kept(summary["state_key"], ("build_caches",), _cache_owners)
    return {"owners": owners, "budget": budgets.size_words(budget) if budget else ""}


def _cache_owners():
    return [
        {**row, "size": budgets.size_words(row["bytes"])}
        for row in caches.bytes_by_owner()
    ]


def _ledger_context(request, form, *, with_owners=False):
    filters = volumes.visible_filters(request.user, form.volume_filters())
    # Totals (and the owners) come from the cache while the ledger is
    # unchanged; the page itself is one query of PAGE_SIZE rows.
    summary = ledger.totals(filters, with_owners=with_owners)
    sort = form.value("sort") or "name"
    rows = (
        ledger.ledger(filters)
        .annotate(born=Coalesce("created_on_engine", "first_seen"))
        .order_by(*_ordering(sort))
        .values(*ROW_FIELDS)
    )
    paginator = Paginator(rows, PAGE_SIZE)
    paginator.count = summary["count"]  # the same filters: no second COUNT
    page = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("sort", None)
    filter_query = query.urlencode()
    return {
        "page": page,
        "totals": summary,
        "totals_html": _totals_html(summary),
        "rows_html": _rows_html(summary, page, sort),
        "sort": sort,
        "filter_query": filter_query,
        "sort_links": _sort_links(filter_query, sort),
        "ledger_url": request.get_full_path(),
        "ledger_changed": LEDGER_CHANGED,
        "filter_errors": [
            f"{form.fields[field].label or field}: {' '.join(errors)}"
            for field, errors in form.errors.items()
            if field in form.fields
        ],
    }


def _filters_html(request, form, summary):
    """The filters' fields, with up to 500 owners to suggest
    (ledger.OWNERS_LISTED): rendered once per state of the ledger, list of
    endpoints and values asked for (the raw ones: a bad value is shown back
    as it was typed)."""
    endpoints = tuple(Endpoint.objects.order_by("name").values_list("pk", "name"))
    asked = tuple((name, tuple(request.GET.getlist(name))) for name in form.fields)
    # A developer is not told who else has volumes.
    owners = summary["owners"] if is_admin(request.user) else ()
    context = {"form": form, "owners": owners}
    return _rendered_once(summary, FILTERS_TEMPLATE, context, endpoints, asked)


def _totals_html(summary):
    """The totals section: a table of up to one row per owner, which costs
    more to render than the page's queries. Endpoints' names are read on
    every request (a rename shows at once), so they are part of the key."""
    names = _endpoint_names(summary)
    return _rendered_once(summary, TOTALS_TEMPLATE, {"totals": summary}, names)


def _endpoint_names(summary):
    """The names of the endpoints the totals cover, as read now: every row
    shown is on one of them, so a rename is a new key for what is kept."""
    return tuple(row["endpoint__name"] for row in summary["by_endpoint"])


def _rows_html(summary, page, sort):
    """The table's rows: some twenty values each through the template engine
    cost more than all of the page's queries, so the page's rows are read
    and rendered once per state of the ledger (with the endpoints' names,
    read on every request), sort and page, and kept while what they show
    holds: until the first of their ages would read differently."""
    now = timezone.now()

    def rendered():
        rows = _shown(page.object_list, now)
        html = render_to_string(ROWS_TEMPLATE, {"rows": rows})
        return {"html": html, "until": _ages_hold_until(rows, now)}

    zone = timezone.get_current_timezone_name()
    parts = (ROWS_TEMPLATE, sort, page.number, _endpoint_names(summary), zone)
    kept = ledger.kept(
        summary["state_key"], parts, rendered, good=lambda kept: now < kept["until"]
    )
    # Safe: the template's own output, escaped as it rendered.
    return mark_safe(kept["html"])


def _ages_hold_until(rows, now):
    """When the first of these rows' ages would be written differently.
    timesince() counts whole minutes (and days, months, years, which begin
    at the same second of the minute as the volume), so an age reads the
    same until the next whole minute since its volume was born."""
    changes = [_next_whole_minute(row["born"], now) for row in rows if row["born"]]
    return min(changes, default=now + timedelta(days=1))


def _next_whole_minute(born, now):
    minutes = max(0, math.floor((now - born) / MINUTE))
    return born + (minutes + 1) * MINUTE


def _rendered_once(summary, template, context, *parts):
    """`template` rendered once per state of the ledger, as the totals are
    computed once, and kept with them (ledger.kept); `parts`: whatever else
    it shows that the ledger's state does not cover."""
    html = ledger.kept(
        summary["state_key"],
        (template, *parts),
        lambda: render_to_string(template, context),
    )
    # Safe: the template's own output, escaped as it rendered.
    return mark_safe(html)


def _shown(rows, now):
    """The page's rows with their times written out once, here: Django's
    date filter costs ~35 µs a call, and a page makes ~170 of them. The same
    formats as the template's `date` filter (`Y-m-d H:i`...) and the same
    zone (the current one), with the zone looked up once."""
    zone = timezone.get_current_timezone()
    return [_row(row, now, zone) for row in rows]


def _row(row, now, zone):
    measured = row["size_measured_at"]
    return {
        **row,
        "in_use": row["status"] == Volume.Status.IN_USE,
        "status_words": STATUS_WORDS.get(row["status"], row["status"]),
        "status_badge": VOLUME_STATUS_WORDS.get(row["status"], row["status"]),
        "detached_at": _written(row["detached_since"], zone, "%Y-%m-%d %H:%M"),
        "measured_at": _written(measured, zone, "%Y-%m-%d %H:%M:%S"),
        "measured_short": _written(measured, zone, "%m-%d %H:%M"),
        "born_at": _written(row["born"], zone, "%Y-%m-%d %H:%M"),
        "age": timesince(row["born"], now),
    }


def _written(moment, zone, pattern):
    return moment.astimezone(zone).strftime(pattern) if moment else ""


def _ordering(sort):
    column, descending = sort.lstrip("-"), sort.startswith("-")
    if column == "size":
        size = F("size_bytes")
        first = size.desc(nulls_last=True) if descending else size.asc(nulls_first=True)
    elif column == "age":  # youngest first; descending: oldest first
        first = F("born").asc() if descending else F("born").desc()
    elif column == "status":
        first = F("status").desc() if descending else F("status").asc()
    else:
        first = F("name").desc() if descending else F("name").asc()
    return (first, "endpoint__name", "name", "pk")


def _sort_links(filter_query, sort):
    """Each column's header: the link that sorts by it (again: reversed)."""
    url = reverse("volumes")
    prefix = f"{url}?{filter_query}&" if filter_query else f"{url}?"
    links = {}
    for column in SORT_COLUMNS:
        following = f"-{column}" if sort == column else column
        arrow = {column: "▲", f"-{column}": "▼"}.get(sort, "")
        links[column] = {"url": f"{prefix}sort={following}", "arrow": arrow}
    return links


# /volumes/refresh/ -------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@ADMINS_ONLY
def volume_refresh(request):
    """POST: rescan in the background (one endpoint or all), then sizes.
    GET ?since=: how that rescan is going; the fragment polls until the
    ledger is newer than the request (or gives up), then the ledger reloads."""
    data = request.POST if request.method == "POST" else request.GET
    endpoint_id = _int_or_none(data.get("endpoint"))
    if endpoint_id is not None and not Endpoint.objects.filter(pk=endpoint_id).exists():
        endpoint_id = None
    error = ""
    if request.method == "POST":
        since = timezone.now()
        try:
            tasks.refresh_volumes.delay(endpoint_id)
        except OperationalError:
            since = None
            error = QUEUE_DOWN
        if not wants_partial(request):
            if error:
                messages.error(request, error)
            else:
                messages.info(request, "Rescanning in the background.")
            return redirect("volumes")
    else:
        since = _since(data.get("since"))
    refresh = _refresh_state(since, endpoint_id)
    context = {"refresh": refresh, "endpoint_id": endpoint_id, "error": error}
    response = render(request, "hosts/volumes/partials/volume_refresh.html", context)
    if request.method == "GET" and refresh["state"] in ("done", "unsized", "gave_up"):
        response["HX-Trigger"] = LEDGER_CHANGED
    return response


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _since(value):
    try:
        stamp = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(stamp) or stamp <= 0:
        return None
    since = datetime.fromtimestamp(stamp, tz=UTC)
    return since if since <= timezone.now() + timedelta(seconds=5) else None


def _refresh_state(since, endpoint_id):
    """idle (nothing asked), listing, sizing, done, unsized (listed, but no
    size came in time), or gave_up (nothing newer after the bound)."""
    if since is None:
        return {"state": "idle"}
    rows = Volume.objects.all()
    if endpoint_id is not None:
        rows = rows.filter(endpoint_id=endpoint_id)
    newest = rows.aggregate(listed=Max("last_seen"), sized=Max("size_measured_at"))
    now = timezone.now()
    state = "listing"
    if newest["sized"] and newest["sized"] >= since:
        state = "done"
    elif newest["listed"] and newest["listed"] >= since:
        waited = (now - newest["listed"]).total_seconds()
        state = "unsized" if waited > SIZES_GRACE_SECONDS else "sizing"
    asked = (now - since).total_seconds()
    if state in ("listing", "sizing") and asked > REFRESH_GIVE_UP_SECONDS:
        state = "gave_up"
    return {
        "state": state,
        "since": since.timestamp(),
        "polling": state in ("listing", "sizing"),
        "at": newest["sized"] or newest["listed"],
        "give_up_seconds": REFRESH_GIVE_UP_SECONDS,
    }


# /volumes/plans/ ----------------------------------------------------------------


@require_POST
def cleanup_plan_create(request):
    """A dry run: from the selected volumes (mode=selection, volume=<id>...)
    or from the page's filters (mode=rule); a developer's, of their own
    volumes only. Answers the plan fragment."""
    try:
        rule = _rule_from(request)
        # Sent twice (one submission key), one plan.
        plan = once(
            request.POST,
            lambda: volumes.make_plan(request.user, rule, request=request),
        )
    except errors.REFUSALS as error:
        if not wants_partial(request):
            errors.show_as_message(request, error, "No plan: {}")
            return redirect("volumes")
        context = {"plan": None, "error": error.message}
        return render(request, "hosts/volumes/partials/cleanup_plan.html", context)
    if not wants_partial(request):
        return redirect("cleanup_plan", plan.pk)
    return render(
        request, "hosts/volumes/partials/cleanup_plan.html", _plan_context(plan)
    )


def _rule_from(request):
    """make_plan's rule: named volumes (chosen one by one) or the filters."""
    if request.POST.get("mode") == "selection":
        return _selection_rule(request.user, request.POST.getlist("volume"))
    form = VolumeFilterForm(request.POST)
    if not form.is_valid():
        field, problems = next(iter(form.errors.items()))
        raise volumes.CleanupInvalid(f"{field}: {' '.join(problems)}")
    filters = form.volume_filters()
    return {
        "endpoint_id": filters.endpoint_id,
        "status": filters.status,
        "owner": filters.owner,
        "older_than_days": filters.older_than_days,
    }


def _selection_rule(user, values):
    ids = {number for number in map(_int_or_none, values) if number is not None}
    if not ids:
        raise volumes.CleanupInvalid(
            "select at least one volume, or plan by rule from the filters"
        )
    if len(ids) > MAX_SELECTED:
        raise volumes.CleanupInvalid(f"select at most {MAX_SELECTED} volumes")
    shown = Volume.objects.filter(pk__in=ids, present=True)
    if not is_admin(user):  # another's volume is not one they could select
        shown = shown.filter(owner_name=user.get_username(), managed=True)
    chosen = list(shown.values_list("endpoint_id", "name"))
    if not chosen:
        raise volumes.CleanupInvalid("the selected volumes are gone from the ledger")
    return {"volumes": sorted([endpoint_id, name] for endpoint_id, name in chosen)}


@require_safe
@vary_on_headers("HX-Request")
def cleanup_plan(request, plan_id):
    """One plan (a developer's own only): its volumes, reasons and bytes;
    while it executes, the fragment polls and shows each volume's result as
    it comes."""
    plan = _visible_plan(request, plan_id)
    context = _plan_context(plan)
    if not wants_partial(request):
        return render(request, "hosts/volumes/volume_plan.html", context)
    response = render(request, "hosts/volumes/partials/cleanup_plan.html", context)
    if request.GET.get("poll") and plan.state == CleanupPlan.State.DONE:
        response["HX-Trigger"] = LEDGER_CHANGED
    return response


@require_POST
def cleanup_plan_execute(request, plan_id):
    """Execute exactly that plan (in the worker); a plan executed already is
    a message, not an error page."""
    plan = _visible_plan(request, plan_id)
    refusal = None
    try:
        plan = volumes.execute(request.user, plan, request=request)
    except errors.REFUSALS as error:
        refusal = error
    return _plan_answer(
        request, plan, refusal, "Not executed: {}", "Executing the plan."
    )


@require_POST
@admin_required("Asking the owners first is for admins.")
def cleanup_plan_notice(request, plan_id):
    """Send a draft plan to its volumes' owners (notice_days, and for how
    long each may keep a volume): they answer Keep or Release until the
    notice ends, then it is executed."""
    plan = _visible_plan(request, plan_id)
    refusal = None
    try:
        plan = once(
            request.POST,
            lambda: volumes.send_notice(
                request.user,
                plan,
                _int_or_none(request.POST.get("notice_days")),
                _int_or_none(request.POST.get("keep_days_allowed")),
                request=request,
            ),
        )
    except errors.REFUSALS as error:
        refusal = error
    return _plan_answer(request, plan, refusal, "Not sent: {}", "Sent to the owners.")


def _plan_answer(request, plan, refusal, refused_words, done_words):
    """After an action on a plan: a plain form goes back to the plan's page
    with a message; an HTMX request gets the plan again, with the refusal."""
    if not wants_partial(request):
        if refusal:
            errors.show_as_message(request, refusal, refused_words)
        else:
            messages.success(request, done_words)
        return redirect("cleanup_plan", plan.pk)
    plan = CleanupPlan.objects.select_related("planned_by").get(pk=plan.pk)
    context = _plan_context(plan)
    context["error"] = refusal.message if refusal else ""
    return render(request, "hosts/volumes/partials/cleanup_plan.html", context)


def _visible_plan(request, plan_id):
    with errors.as_error_pages():
        return volumes.get_visible_plan(request.user, plan_id)


def _plan_context(plan):
    results = CleanupItem.Result
    summary = plan.items.aggregate(
        count=Count("id"),
        unmeasured=Count("id", filter=Q(size_bytes__isnull=True)),
        pending=Count("id", filter=Q(result=results.PENDING)),
        removed=Count("id", filter=Q(result=results.REMOVED)),
        skipped_in_use=Count("id", filter=Q(result=results.SKIPPED_IN_USE)),
        not_found=Count("id", filter=Q(result=results.NOT_FOUND)),
        error=Count("id", filter=Q(result=results.ERROR)),
    )
    summary.update(
        plan.items.aggregate(
            kept=Count("id", filter=Q(answer=CleanupItem.Answer.KEEP)),
            released=Count("id", filter=Q(answer=CleanupItem.Answer.RELEASE)),
        )
    )
    executing = plan.state == CleanupPlan.State.EXECUTING
    following = executing and (
        plan.executed_at is None or timezone.now() - plan.executed_at < EXECUTE_FOLLOW
    )
    return {
        "plan": plan,
        "rule_words": cleanup_rule_words(
            plan.rule, dict(Endpoint.objects.values_list("pk", "name"))
        ),
        "items": plan.items.select_related("endpoint")[:PLAN_ROWS_SHOWN],
        "summary": summary,
        "rows_shown": PLAN_ROWS_SHOWN,
        "polling": following,
        "stalled": executing and not following,
    }


# /volumes/notices/ ----------------------------------------------------------------


def notices_context(user):
    """The volumes a running notice asks `user` about (on / and /volumes/)."""
    items = list(volumes.notice_items_of(user)[: NOTICES_SHOWN + 1])
    return {
        "notices": items[:NOTICES_SHOWN],
        "notices_more": len(items) > NOTICES_SHOWN,
    }


@require_safe
@vary_on_headers("HX-Request")
def notices(request):
    """The signed-in user's volumes a notice asks about: the page, or the
    fragment the other pages poll (a new notice shows without a reload)."""
    context = notices_context(request.user)
    partial = wants_partial(request)
    # Its own page says when nothing is asked; the other pages say nothing.
    context["notices_page"] = not partial or request.GET.get("page") == "1"
    if partial:
        return render(request, NOTICES_TEMPLATE, context)
    return render(request, "hosts/volumes/notices.html", context)


@require_POST
def notice_answer(request, item_id, choice):
    """Keep (with a reason and days) or Release one volume of a notice: its
    owner (or an admin); anyone else's is not found. Sent twice (one
    submission key), answered once."""
    with errors.as_error_pages():
        item = volumes.get_answerable_item(request.user, None, item_id)
    refusal = None
    try:
        once(
            request.POST,
            lambda: volumes.answer(
                request.user,
                item,
                choice,
                reason=request.POST.get("reason", ""),
                keep_days=_int_or_none(request.POST.get("days")),
                request=request,
            ),
        )
    except errors.REFUSALS as error:
        refusal = error
    if not wants_partial(request):
        if refusal:
            errors.show_as_message(request, refusal, "Not answered: {}")
        else:
            messages.success(request, f"Answered for {item.volume_name}.")
        return redirect("volume_notices")
    context = notices_context(request.user)
    if refusal:
        context["refused"] = {"item": item.pk, "message": refusal.message}
    return render(request, NOTICES_TEMPLATE, context)
