"""/build-hosts/: the list and the "New build host" form, one host's page
(state, step timeline, how to connect), extend, remove, its TLS bundle and
docker context file."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)
from django.views.decorators.vary import vary_on_headers

from hosts.buildhosts import commands as buildhosts
from hosts.buildhosts import connect, lifetime, provisioning
from hosts.core.permissions import is_admin
from hosts.lib.downloads import attachment
from hosts.models import BuildHost
from hosts.web import errors
from hosts.web.contexts import with_expiry
from hosts.web.filters import build_host_filters, filter_build_hosts
from hosts.web.forms import BuildHostForm
from hosts.web.htmx import open_page, page_or_fragment, wants_partial
from hosts.web.lookups import visible_build_host
from hosts.web.submissions import submission_key, submit
from hosts.web.words import (
    REASON_WORDS,
    STEP_LABELS,
    lease_words,
    stopped_words,
    words_for,
)

BUILD_HOST_LIST_SIZE = 100
EXTEND_MINUTES = 60


# /build-hosts/ ----------------------------------------------------------------


def _build_host_list_context(request, form):
    """The list as searched and filtered (hosts/web/filters.py): a developer's
    own hosts by state; an admin's also by owner."""
    admin = is_admin(request.user)
    filters = build_host_filters(request.GET, admin)
    visible = filter_build_hosts(filters, buildhosts.visible_to(request.user))
    hosts = with_expiry(visible[:BUILD_HOST_LIST_SIZE])
    return {
        "hosts": hosts,
        "polling": any(not host.is_settled for host in hosts),
        "show_owner": admin,
        "list_size": BUILD_HOST_LIST_SIZE,
        "form": form,
        "filters": filters,
    }


@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def build_hosts(request):
    """Your build hosts (admins: everyone's) and the "New build host" form.
    The table polls itself while a host in it is changing. A created host
    opens its own page; a refused request shows the form again with the
    reason (400 for bad input, 409 for a cap or a conflict)."""
    if request.method != "POST":
        return page_or_fragment(
            request,
            "hosts/buildhosts/build_hosts.html",
            "hosts/buildhosts/partials/build_host_table.html",
            _build_host_list_context(request, BuildHostForm()),
        )
    form = BuildHostForm(request.POST)
    host, status = submit(form, lambda form: _create_build_host(request, form))
    if host is not None:
        # No "requested" message: it would outlive the state, and the host's
        # page says the state, live.
        return open_page(request, reverse("build_host", args=[host.pk]))
    if wants_partial(request):
        return render(
            request,
            "hosts/buildhosts/partials/build_host_create.html",
            {"form": form},
            status=status,
        )
    context = _build_host_list_context(request, form)
    return render(request, "hosts/buildhosts/build_hosts.html", context, status=status)


def _create_build_host(request, form):
    # The form's one-time key doubles as the API's Idempotency-Key: even if
    # two POSTs of one form got past hosts/web/submissions.py (its cache not
    # answering), the database makes one host of them.
    key = submission_key(request.POST)
    host, _ = buildhosts.create_build_host(
        request.user,
        form.service_data(),
        idempotency_key=f"form:{key}" if key else "",
        request=request,
    )
    return host


# /build-hosts/<id>/ -------------------------------------------------------------


def _timeline(host):
    """One row per provisioning step (its latest attempt, or pending), then
    the steps outside the seven (rollback, removal) as they happened."""
    steps = list(host.steps.all())
    latest = {step.name: step for step in steps}
    rows = [_timeline_row(name, latest.get(name)) for name in provisioning.STEPS]
    rows += [
        _timeline_row(step.name, step)
        for step in steps
        if step.name not in provisioning.STEPS
    ]
    return rows


def _timeline_row(name, step):
    row = {"name": name, "label": words_for(STEP_LABELS, name), "step": step}
    row["status"] = step.status if step else "pending"
    if step and step.reason:
        row["reason_words"] = words_for(REASON_WORDS, step.reason)
    return row


def _failed_step(host):
    """The step a failed host failed at (its rollback and trims aside), if
    recorded."""
    if host.state != BuildHost.State.FAILED:
        return None
    return (
        host.steps.filter(status="failed")
        .exclude(name__in=("rollback", "trim"))
        .order_by("-started_at", "-id")
        .first()
    )


def _lease(host):
    """ "renewed 12 s ago, lapses in 48 s" while the host holds a lease."""
    if not host.lease_expires_at or host.state not in lifetime.LEASED_STATES:
        return ""
    now = timezone.now()
    lapses_in = (host.lease_expires_at - now).total_seconds()
    return lease_words(host.lease_seconds - lapses_in, lapses_in)


def _build_host_context(host):
    failed_step = _failed_step(host)
    connectable = host.is_running and bool(host.docker_host)
    lease = _lease(host)
    return {
        "host": host,
        "lease": lease,
        # Live until it settles, and while a lease counts down (it may lapse).
        "polling": not host.is_settled or bool(lease),
        # A stopped host changes only when someone acts (a resume through the
        # API, an extend, its expiry): looked at now and then, not every second.
        "watching": host.state == BuildHost.State.STOPPED,
        "timeline": _timeline(host),
        "failed_step": failed_step,
        "failed_step_label": words_for(
            STEP_LABELS, failed_step.name if failed_step else host.step
        ),
        "reason_words": words_for(REASON_WORDS, host.error_reason),
        "expiring": buildhosts.expires_soon(host),
        "can_extend": host.can_extend,
        "can_remove": host.can_remove,
        "can_resume": host.can_resume,
        "can_stop": host.can_stop,
        "stopped_words": stopped_words(host) if host.state == "stopped" else "",
        "connectable": connectable,
        "has_bundle": bool(host.owner_cert_pem),
        # The commands of the "Connect" section (only a running host has them).
        "connect": connect.connect_commands(host) if connectable else None,
        "context_name": connect.context_name(host),
    }


@require_safe
@vary_on_headers("HX-Request")
def build_host(request, build_host_id):
    """One build host: its state and step timeline (polled every second
    until it settles), how to connect, extend and remove."""
    host = visible_build_host(request.user, build_host_id)
    return page_or_fragment(
        request,
        "hosts/buildhosts/build_host.html",
        "hosts/buildhosts/partials/build_host_status.html",
        _build_host_context(host),
    )


def status_out_of_band(request, host) -> str:
    """The host's status fragment, to ride out of band on another answer
    (the build form's, when it finds the host gone): the page's state then
    says what the form found, though the status itself had stopped polling."""
    context = {**_build_host_context(host), "oob": True}
    return render_to_string(
        "hosts/buildhosts/partials/build_host_status.html", context, request=request
    )


def _build_host_changed(request, host, status=200):
    """After extend or remove: the status fragment, or back to the page."""
    if not wants_partial(request):
        return redirect("build_host", host.pk)
    host = visible_build_host(request.user, host.pk)
    return render(
        request,
        "hosts/buildhosts/partials/build_host_status.html",
        _build_host_context(host),
        status=status,
    )


@require_POST
def build_host_extend(request, build_host_id):
    """Another hour for the host."""
    host = visible_build_host(request.user, build_host_id)
    try:
        host = buildhosts.extend(request.user, host, EXTEND_MINUTES, request=request)
    except errors.REFUSALS as error:
        errors.show_as_message(request, error, "Not extended: {}.")
    else:
        local = timezone.localtime(host.expires_at)
        # A message is text: the server's zone, named (the page's own times
        # are shown in the viewer's zone).
        messages.success(
            request, f"Extended: it now expires {local:%Y-%m-%d %H:%M %Z}."
        )
    return _build_host_changed(request, host)


@require_POST
def build_host_stop(request, build_host_id):
    """Stop a ready host now, keeping its volumes; its status polls until a
    worker has stopped it. A second click changes nothing more."""
    host = visible_build_host(request.user, build_host_id)
    try:
        host = buildhosts.request_stop(request.user, host, request=request)
    except errors.REFUSALS as error:
        errors.show_as_message(request, error, "Not stopped: {}.")
    return _build_host_changed(request, host)


@require_POST
def build_host_resume(request, build_host_id):
    """Start a stopped host again; its status polls until it is ready. A
    second click while it resumes starts nothing more (the command answers
    with the resume under way)."""
    host = visible_build_host(request.user, build_host_id)
    try:
        host = buildhosts.request_resume(request.user, host, request=request)
    except errors.REFUSALS as error:
        # Answered as extend is: the fragment (the host as it is now) with
        # the reason as a message.
        errors.show_as_message(request, error, "Not resumed: {}.")
    return _build_host_changed(request, host)


@require_POST
def build_host_remove(request, build_host_id):
    """Remove the host, deleting or keeping its volumes. Asking again for a
    host already on its way out changes nothing."""
    host = visible_build_host(request.user, build_host_id)
    volumes = request.POST.get("volumes") or None
    was = host.state
    try:
        host = buildhosts.request_removal(request.user, host, volumes, request=request)
    except errors.REFUSALS as error:
        errors.show_as_message(request, error, "Not removed: {}.")
        return _build_host_changed(request, host, status=400)
    # No "Removing …" message: it would stay on screen once the host is
    # removed; the live status says removing, then removed, and what
    # becomes of the volumes. A second ask is told, in words that stay true.
    if was == BuildHost.State.REMOVING:
        messages.info(request, f"“{host.name}” was already being removed.")
    elif was == BuildHost.State.REMOVED:
        messages.info(request, f"“{host.name}” was already removed.")
    return _build_host_changed(request, host)


@require_safe
def build_host_tls_bundle(request, build_host_id):
    """The owner's TLS bundle as a zip download (owner and admins only)."""
    host = visible_build_host(request.user, build_host_id)
    try:
        return attachment(
            buildhosts.tls_bundle(host), host.tls_bundle_filename, "application/zip"
        )
    except buildhosts.BuildHostConflict as error:  # no bundle: its own page
        return render(
            request,
            "hosts/buildhosts/build_host_no_bundle.html",
            {"host": host, "message": error.message},
            status=409,
        )


@require_safe
def build_host_docker_context(request, build_host_id):
    """The owner's docker context file (as GET /api/v1/build-hosts/{id}/
    docker-context serves it), for the signed-in owner and admins."""
    host = visible_build_host(request.user, build_host_id)
    try:
        return attachment(
            connect.docker_context_file(host),
            connect.docker_context_filename(host),
            "application/x-tar",
        )
    except buildhosts.BuildHostConflict as error:  # not ready: a page that says so
        return render(
            request,
            "hosts/buildhosts/build_host_not_connectable.html",
            {"host": host, "message": error.message},
            status=409,
        )


# /build-hosts/<id>/inside and /trim ------------------------------------------------


def _inside_context(host):
    """What the "Inside" section shows: the engine's containers, images and
    disk use (read now, or why not), and the latest trim."""
    trim = buildhosts.last_trim(host)
    context = {
        "host": host,
        "trim": trim,
        "trim_reason_words": words_for(REASON_WORDS, trim.reason if trim else ""),
        "can_trim": host.state == BuildHost.State.READY,
    }
    if not host.is_running:
        return context
    try:
        context["inside"] = buildhosts.look_inside(host)
    except buildhosts.BuildHostUnreachable as error:
        context["unreachable"] = error
        context["unreachable_words"] = words_for(REASON_WORDS, error.reason)
    except buildhosts.BuildHostConflict as error:  # no certificate to open it
        context["cannot_look"] = error.message
    return context


def _inside_fragment(request, host, status=200):
    return render(
        request,
        "hosts/buildhosts/partials/build_host_inside.html",
        _inside_context(host),
        status=status,
    )


def _inside_anchor(host):
    return redirect(reverse("build_host", args=[host.pk]) + "#build-host-inside")


@require_safe
def build_host_inside(request, build_host_id):
    """The "Inside" section of a host's page, read from its engine over
    mutual TLS; it polls itself (faster while a trim runs). Not a page of
    its own: a plain visit goes to the host's page."""
    host = visible_build_host(request.user, build_host_id)
    if not wants_partial(request):
        return _inside_anchor(host)
    return _inside_fragment(request, host)


@require_POST
def build_host_trim(request, build_host_id):
    """Prune the host's dangling images and build cache in the background;
    a second click while it runs starts nothing more."""
    host = visible_build_host(request.user, build_host_id)
    status = 200
    try:
        buildhosts.request_trim(request.user, host, request=request)
    except errors.REFUSALS as error:
        errors.show_as_message(request, error, "Not trimmed: {}.")
        status = error.status
    if not wants_partial(request):
        return _inside_anchor(host)
    return _inside_fragment(request, visible_build_host(request.user, host.pk), status)
