"""/build-hosts/: the list and the "New build host" form, one host's page
(state, step timeline, how to connect), extend, remove, its TLS bundle."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)
from django.views.decorators.vary import vary_on_headers

from hosts.buildhosts import commands as buildhosts
from hosts.buildhosts import provisioning
from hosts.core.permissions import is_admin
from hosts.lib.downloads import attachment
from hosts.models import BuildHost
from hosts.web import errors
from hosts.web.contexts import with_expiry
from hosts.web.forms import BuildHostForm
from hosts.web.htmx import open_page, page_or_fragment, wants_partial
from hosts.web.lookups import visible_build_host
from hosts.web.submissions import submit
from hosts.web.words import REASON_WORDS, STEP_LABELS, words_for

BUILD_HOST_LIST_SIZE = 100
EXTEND_MINUTES = 60


# /build-hosts/ ----------------------------------------------------------------


def _build_host_list_context(request, form):
    hosts = with_expiry(buildhosts.visible_to(request.user)[:BUILD_HOST_LIST_SIZE])
    return {
        "hosts": hosts,
        "polling": any(not host.is_settled for host in hosts),
        "show_owner": is_admin(request.user),
        "list_size": BUILD_HOST_LIST_SIZE,
        "form": form,
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
        messages.success(request, f"Build host “{host.name}” requested.")
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
    host, _ = buildhosts.create_build_host(
        request.user, form.service_data(), request=request
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
    """The step a failed host failed at (its rollback aside), if recorded."""
    if host.state != BuildHost.State.FAILED:
        return None
    return (
        host.steps.filter(status="failed")
        .exclude(name="rollback")
        .order_by("-started_at", "-id")
        .first()
    )


def _build_host_context(host):
    failed_step = _failed_step(host)
    return {
        "host": host,
        "timeline": _timeline(host),
        "failed_step": failed_step,
        "failed_step_label": words_for(
            STEP_LABELS, failed_step.name if failed_step else host.step
        ),
        "reason_words": words_for(REASON_WORDS, host.error_reason),
        "expiring": buildhosts.expires_soon(host),
        "can_extend": host.can_extend,
        "can_remove": host.can_remove,
        "connectable": host.is_running and bool(host.docker_host),
        "has_bundle": bool(host.owner_cert_pem),
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
        messages.success(request, f"Extended: it now expires {local:%Y-%m-%d %H:%M}.")
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
    if was in (BuildHost.State.REMOVING, BuildHost.State.REMOVED):
        messages.info(request, f"“{host.name}” is already {was}.")
    else:
        kept = "deleting" if host.remove_volumes else "keeping"
        messages.success(request, f"Removing “{host.name}”, {kept} its volumes.")
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
