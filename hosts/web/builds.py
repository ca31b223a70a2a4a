"""Build pages: ask for a build (home, a build host's page, /builds/), follow
it live on /builds/<id>/ (state, log by offset, cancel), download its whole
log, and run a pushed image on an endpoint (a deployment).

Views do HTTP only; the use cases are hosts/builds/commands.py, hosts/builds/logs.py and
hosts/deployments/commands.py. A page answers an HTMX request with the fragment it
swaps (hosts/web/htmx.py). Everything polls only while something changes.
"""

import codecs

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)
from django.views.decorators.vary import vary_on_headers

from hosts.builds import commands as builds
from hosts.builds import logs as buildlogs
from hosts.builds.logs import MAX_LOG_OFFSET
from hosts.core.permissions import is_admin
from hosts.deployments import commands as deployments
from hosts.lib.downloads import attachment
from hosts.models import Build, BuildHost, Deployment
from hosts.web.buildhosts import status_out_of_band
from hosts.web.contexts import build_form_context, my_builds_context
from hosts.web.filters import build_filters, filter_builds
from hosts.web.forms import BuildForm, DeployForm
from hosts.web.htmx import open_page, wants_partial
from hosts.web.lookups import host_for_form, visible_build, visible_deployment
from hosts.web.submissions import submit
from hosts.web.words import BUILD_REASON_WORDS, BUILD_STEP_WORDS, words_for

DEPLOYMENTS_SHOWN = 5
BUILD_LIST_SIZE = 100
BUILD_TABLE_TARGET = "build-table"


# --- Ask for a build ----------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def build_new(request):
    """GET: the form (?build_host_id=<id>: on that host; an HTMX GET answers the
    fragment, which polls while the host is still being provisioned). POST:
    ask for the build; it opens its page. A refused request shows the form
    again with the reason (a 200: the page works, the input does not)."""
    data = request.POST if request.method == "POST" else request.GET
    host = host_for_form(request.user, data.get("build_host_id"))
    if request.method != "POST":
        form = BuildForm(host=host)
    else:
        form = BuildForm(request.POST, request.FILES, host=host)
        build, _ = submit(form, lambda form: _create_build(request, form))
        if build is not None:
            # No "queued" message: the build's page says its state, live.
            return open_page(request, reverse("build", args=[build.pk]))
    context = build_form_context(form)
    if wants_partial(request):
        response = render(request, "hosts/builds/partials/build_form.html", context)
        if request.method != "POST" and _gone(host):
            # The form's place found the host gone: the host's status (which
            # stopped polling once the host was ready) learns it too.
            response.content += status_out_of_band(request, host).encode()
        return response
    return render(request, "hosts/builds/build_new.html", context)


def _gone(host) -> bool:
    """Neither running nor on its way: removing, removed or failed."""
    return (
        host is not None
        and not host.is_running
        and host.state not in BuildHost.WAITING_STATES
    )


def _create_build(request, form):
    return builds.create_build(
        request.user,
        form.service_data(),
        upload=form.cleaned_data.get("context"),
        request=request,
    )


@require_safe
@vary_on_headers("HX-Request", "HX-Target")
def build_list(request):
    """Your builds (admins: everyone's), searched and filtered by state (and
    by owner, for admins), and the form. The table polls itself with its
    filters (HTMX GETs for its target answer it) while one of them is not
    finished; home's "My builds" panel polls this URL too, for its own."""
    if wants_partial(request) and request.htmx.target != BUILD_TABLE_TARGET:
        context = my_builds_context(request.user)
        return render(request, "hosts/builds/partials/my_builds.html", context)
    context = _build_table_context(request)
    if wants_partial(request):
        return render(request, "hosts/builds/partials/build_table.html", context)
    context.update(build_form_context(BuildForm()))
    return render(request, "hosts/builds/builds.html", context)


def _build_table_context(request):
    admin = is_admin(request.user)
    filters = build_filters(request.GET, admin)
    shown = list(
        filter_builds(filters, builds.visible_to(request.user))[:BUILD_LIST_SIZE]
    )
    return {
        "builds": shown,
        "filters": filters,
        "show_owner": admin,
        "list_size": BUILD_LIST_SIZE,
        "polling": any(not build.is_final for build in shown),
    }


# --- One build ----------------------------------------------------------------------


def pull_ref(build) -> str:
    """`<repository>@<digest>` of a pushed build, else ""."""
    if not (build.push and build.digest and build.image_ref):
        return ""
    name = build.image_ref
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return f"{name}@{build.digest}"


def _build_context(request, build):
    context = {
        "build": build,
        "step_words": words_for(BUILD_STEP_WORDS, build.step),
        "reason_words": words_for(BUILD_REASON_WORDS, build.error_reason),
        "pull_ref": pull_ref(build),
    }
    if build.state == Build.State.SUCCEEDED and context["pull_ref"]:
        context.update(_deploy_context(request, build, DeployForm()))
    return context


@require_safe
@vary_on_headers("HX-Request")
def build_detail(request, build_id):
    """A build: its state (polled every second until it is final), its log's
    tail (more is appended by the log poller), cancel, and for a pushed
    image, deploy."""
    build = visible_build(request.user, build_id)
    context = _build_context(request, build)
    if wants_partial(request):
        return render(request, "hosts/builds/partials/build_status.html", context)
    text, offset, cut = buildlogs.tail(build.pk)
    context.update(
        {
            "log_text": text,
            "log_cut": cut,
            "log_offset": offset,
            "log_polling": not build.is_final,
        }
    )
    return render(request, "hosts/builds/build.html", context)


def _read_text(build_id, offset):
    """(text, next offset) from `offset`; a character cut at the chunk's end
    is left for the next read."""
    data, next_offset = buildlogs.read(build_id, offset)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data, final=False)
    pending, _ = decoder.getstate()
    return text, next_offset - len(pending)


def _offset_refusal(value):
    """Why ?offset= is not one to read from (plain text for the poller), or
    None when it is."""
    try:
        offset = int(value)
    except ValueError:
        return "offset is a whole number of bytes"
    if not 0 <= offset <= MAX_LOG_OFFSET:
        return f"offset is from 0 to {MAX_LOG_OFFSET}"
    return None


@require_safe
def build_log(request, build_id):
    """The log from ?offset=N as text (escaped) to append, and the poller
    again out of band with the next offset. It keeps polling while the build
    runs, or while text still comes; then it stops."""
    build = visible_build(request.user, build_id)
    asked = request.GET.get("offset", "0")
    refusal = _offset_refusal(asked)
    if refusal:
        return HttpResponse(refusal, status=400, content_type="text/plain")
    offset = int(asked)
    text, next_offset = _read_text(build.pk, offset)
    context = {
        "build": build,
        "log_text": text,
        "log_offset": next_offset,
        "log_polling": not build.is_final or next_offset > offset,
        "oob": True,
    }
    response = render(request, "hosts/builds/partials/build_log_chunk.html", context)
    response["X-Next-Offset"] = str(next_offset)
    return response


@require_safe
def build_log_download(request, build_id):
    """The whole log, streamed from its file, as a text attachment."""
    build = visible_build(request.user, build_id)
    filename = f"build-{build.short_id}.log"
    path = buildlogs.path_of(build.pk)
    if not path.exists():
        return attachment(b"", filename, "text/plain; charset=utf-8")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=filename,
        content_type="text/plain; charset=utf-8",
    )


@require_POST
def build_cancel(request, build_id):
    """Ask the build to stop; answers the status fragment (or the page)."""
    build = visible_build(request.user, build_id)
    was_final = build.is_final
    build = builds.cancel(request.user, build, request=request)
    if was_final:
        messages.info(request, f"The build had already {build.state}.")
    elif build.state == Build.State.CANCELLED:
        messages.success(request, "Build cancelled.")
    # Else the live state says "cancelling" until the build stops: a message
    # saying so would outlive it.
    if not wants_partial(request):
        return redirect("build", build.pk)
    build = visible_build(request.user, build.pk)
    return render(
        request,
        "hosts/builds/partials/build_status.html",
        _build_context(request, build),
    )


# --- Deploy a pushed build ----------------------------------------------------------


def _deployments_of(user, build):
    return list(
        deployments.visible_to(user)
        .filter(image=pull_ref(build))
        .exclude(state=Deployment.State.REMOVED)[:DEPLOYMENTS_SHOWN]
    )


def _deployment_view(deployment):
    """A deployment as its fragment shows it: refreshed from the engine and
    with its last output, while it is on the engine."""
    if deployment.state in Deployment.LIVE_STATES:
        deployments.refresh(deployment)
    deployment.output = (
        deployments.logs(deployment)
        if deployment.state != Deployment.State.REMOVING
        else ""
    )
    deployment.polling = deployment.state in Deployment.CHANGING_STATES
    return deployment


def _deploy_context(request, build, form):
    return {
        "deploy_form": form,
        "deployments": [
            _deployment_view(deployment)
            for deployment in _deployments_of(request.user, build)
        ],
    }


@require_POST
def build_deploy(request, build_id):
    """Run the pushed image (by digest) on an endpoint; answers the deploy
    panel with the new deployment (or the form with the reason, a 200)."""
    build = visible_build(request.user, build_id)
    form = DeployForm(request.POST)
    image = pull_ref(build)
    if build.state != Build.State.SUCCEEDED or not image:
        form.add_error(None, "Only a build that pushed its image can be deployed.")
    else:
        deployment, _ = submit(form, lambda form: _deploy(request, form, image))
        if deployment is not None:
            # No "Deploying …" message: the deployment's own panel, just
            # added, says its state live (a message would outlive it).
            form = DeployForm()
    if not wants_partial(request):
        return redirect("build", build.pk)
    context = {"build": build, "pull_ref": image}
    context.update(_deploy_context(request, build, form))
    return render(request, "hosts/builds/partials/build_deploy.html", context)


def _deploy(request, form, image):
    return deployments.create(
        request.user,
        {
            "endpoint_id": form.cleaned_data["endpoint"].pk,
            "image": image,
            "command": form.cleaned_data["command"],
        },
        request=request,
    )


def _deployment_of(request, build, deployment_id):
    """The user's deployment of this build's image, else the 404 page."""
    deployment = visible_deployment(request.user, deployment_id)
    if deployment.image != pull_ref(build):
        raise Http404("No such deployment of this build.")
    return deployment


def _deployment_changed(request, build, deployment):
    """The deployment's fragment, or back to the build's page."""
    if not wants_partial(request):
        return redirect("build", build.pk)
    return render(
        request,
        "hosts/builds/partials/build_deployment.html",
        {"build": build, "deployment": _deployment_view(deployment)},
    )


@require_safe
def build_deployment(request, build_id, deployment_id):
    """One deployment's fragment (it polls itself while it changes)."""
    build = visible_build(request.user, build_id)
    deployment = _deployment_of(request, build, deployment_id)
    return _deployment_changed(request, build, deployment)


@require_POST
def build_deployment_remove(request, build_id, deployment_id):
    build = visible_build(request.user, build_id)
    deployment = _deployment_of(request, build, deployment_id)
    deployment = deployments.request_removal(request.user, deployment, request=request)
    # Its panel says "removing", then "removed", live: no message to outlive it.
    return _deployment_changed(request, build, deployment)
