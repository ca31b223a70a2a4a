"""Build pages: ask for a build (home, a build host's page, /builds/), follow
it live on /builds/<id>/ (state, log by offset, cancel), download its whole
log, and run a pushed image on an endpoint (a deployment).

Views do HTTP only; the use cases are hosts/builds/commands.py, hosts/builds/logs.py and
hosts/deployments/commands.py. A page answers an HTMX request with the fragment it
swaps (hosts/web/htmx.py). Everything polls only while something changes.
"""

import codecs

from django import forms
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
from django_htmx.http import HttpResponseClientRedirect

from hosts.buildhosts import commands as buildhosts
from hosts.builds import commands as builds
from hosts.builds import logs as buildlogs
from hosts.deployments import commands as deployments
from hosts.models import Build, BuildHost, Deployment, Endpoint
from hosts.web.htmx import wants_partial
from hosts.web.views import REASON_WORDS

MY_BUILDS_SIZE = 10
MAX_LOG_OFFSET = 2**53  # more than any log; larger is refused, not a 500
DEPLOYMENTS_SHOWN = 5
_BUILDABLE_HOST_STATES = (BuildHost.State.READY, BuildHost.State.BUSY)
_WAITING_HOST_STATES = (BuildHost.State.REQUESTED, BuildHost.State.PROVISIONING)
_ACTIVE_DEPLOYMENT_STATES = (
    Deployment.State.REQUESTED,
    Deployment.State.STARTING,
    Deployment.State.RUNNING,
    Deployment.State.REMOVING,
)

# The build's steps (hosts/builds/runner.py) in words.
BUILD_STEP_WORDS = {
    "provision": "getting the build host ready",
    "build": "building the image",
    "push": "pushing the image to the registry",
    "verify": "checking the registry serves the pushed image",
}

# Build failure reasons on top of the build hosts' (hosts/web/views.py).
BUILD_REASON_WORDS = {
    **REASON_WORDS,
    "build_failed": "a step of the Dockerfile failed (see the log)",
    "not_pushed": "the registry does not serve the pushed image",
    "digest_mismatch": "the registry serves another digest than the one pushed",
    "context_missing": "the uploaded context is gone from dchweb's data folder",
    "no_build_host": "the build host is gone",
    "cancelled": "it was cancelled",
    "failed": "the engine reported an error",
}


# --- The build form ---------------------------------------------------------------


class BuildForm(forms.Form):
    """Shape only; hosts/builds/commands.py checks tags, the context, the arguments,
    the build host or endpoint, and caps. With `host`, it builds on that
    build host; without, on an ephemeral one on the chosen endpoint. The
    fields are named as the service's data keys, so its errors land on them."""

    context = forms.FileField(
        label="Context archive (tar or tar.gz)",
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".tar,.gz,.tgz"}),
        help_text="The folder to build, with its Dockerfile, as an archive.",
    )
    dockerfile_text = forms.CharField(
        label="…or write a Dockerfile",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "FROM …"}),
        help_text="Instead of an archive: the Dockerfile alone, no other files.",
    )
    dockerfile = forms.CharField(
        label="Dockerfile path",
        max_length=255,
        initial="Dockerfile",
        help_text="Inside the archive.",
    )
    tag = forms.CharField(
        label="Tag(s)",
        max_length=2000,
        widget=forms.TextInput(
            attrs={"placeholder": "registry.test:5443/default-project/app:1"}
        ),
        help_text="One or more, separated by spaces or commas. To push: "
        "<registry>/<project>/<name>:<tag>.",
    )
    build_args = forms.CharField(
        label="Build arguments (JSON, optional)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": '{"NAME": "value"}'}),
    )
    push = forms.BooleanField(
        label="Push to the registry", required=False, initial=True
    )
    endpoint_id = forms.ModelChoiceField(
        label="Endpoint",
        queryset=Endpoint.objects.enabled(),
        empty_label=None,
        help_text="A build host is made there for this build and removed after it.",
    )
    volume_policy = forms.ChoiceField(
        label="Its volumes afterwards",
        choices=(("delete", "Delete them"), ("keep", "Keep them")),
        initial="delete",
    )
    build_host_id = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, host=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.host = host
        if host is not None:
            del self.fields["endpoint_id"]
            del self.fields["volume_policy"]
            self.fields["build_host_id"].initial = host.pk
        else:
            del self.fields["build_host_id"]

    @property
    def place(self) -> str:
        """The id of the element the form lives in (home or a host's page)."""
        return "new-build-on-host" if self.host is not None else "new-build"

    def clean(self):
        cleaned = super().clean()
        upload, text = cleaned.get("context"), cleaned.get("dockerfile_text")
        if upload and text and text.strip():
            self.add_error(
                "dockerfile_text",
                "Upload an archive or write a Dockerfile, not both.",
            )
        elif not upload and not (text and text.strip()):
            self.add_error("context", "Upload a context archive or write a Dockerfile.")
        return cleaned

    def service_data(self) -> dict:
        data = self.cleaned_data
        wanted = {
            "tag": data["tag"],
            "dockerfile": data["dockerfile"],
            "dockerfile_text": "" if data.get("context") else data["dockerfile_text"],
            "build_args": data["build_args"],
            "push": data["push"],
        }
        if self.host is not None:
            wanted["build_host_id"] = str(self.host.pk)
        else:
            wanted["endpoint_id"] = data["endpoint_id"].pk
            wanted["volume_policy"] = data["volume_policy"]
        return wanted

    def add_service_error(self, field, message) -> None:
        name = field
        if field == "context" and not self.cleaned_data.get("context"):
            name = "dockerfile_text"
        if name not in self.fields or name == "build_host_id":
            name = None
        self.add_error(name, message)


def host_for_form(user, build_host_id):
    """The build host a build form is for, if the user may build on it."""
    if not build_host_id:
        return None
    try:
        return buildhosts.get_visible(user, build_host_id)
    except buildhosts.BuildHostNotFound:
        raise Http404("No such build host.") from None


def build_form_context(form):
    host = form.host
    return {
        "form": form,
        "host": host,
        # A refused form always comes back, to say why.
        "buildable": host is None
        or host.state in _BUILDABLE_HOST_STATES
        or form.is_bound,
        "waiting": host is not None and host.state in _WAITING_HOST_STATES,
    }


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
        build = _create_build(request, form)
        if build is not None:
            messages.success(request, f"Build {build.short_id} queued.")
            url = reverse("build", args=[build.pk])
            if wants_partial(request):
                return HttpResponseClientRedirect(url)
            return redirect(url)
    context = build_form_context(form)
    if wants_partial(request):
        return render(request, "hosts/partials/build_form.html", context)
    return render(request, "hosts/build_new.html", context)


def _create_build(request, form):
    if not form.is_valid():
        return None
    try:
        return builds.create_build(
            request.user,
            form.service_data(),
            upload=form.cleaned_data.get("context"),
            request=request,
        )
    except builds.BuildInvalid as error:
        form.add_service_error(error.field, error.message)
    except buildhosts.BuildHostConflict as error:
        form.add_error(None, error.message)
    return None


# --- My builds ----------------------------------------------------------------------


def my_builds_context(user, size=MY_BUILDS_SIZE):
    mine = list(Build.objects.filter(owner=user).select_related("build_host")[:size])
    return {
        "my_builds": mine,
        "my_builds_polling": any(not build.is_final for build in mine),
    }


@require_safe
@vary_on_headers("HX-Request")
def build_list(request):
    """Your newest builds and the form; the list polls itself (HTMX GETs of
    this URL answer the list) while one of them is not finished."""
    context = my_builds_context(request.user)
    if wants_partial(request):
        return render(request, "hosts/partials/my_builds.html", context)
    context.update(build_form_context(BuildForm()))
    return render(request, "hosts/builds.html", context)


# --- One build ----------------------------------------------------------------------


def _visible_build(request, build_id) -> Build:
    try:
        return builds.get_visible(request.user, build_id)
    except builds.BuildNotFound:
        raise Http404("No such build.") from None


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
    reason = build.error_reason
    context = {
        "build": build,
        "step_words": BUILD_STEP_WORDS.get(build.step, build.step),
        "reason_words": BUILD_REASON_WORDS.get(reason, reason) if reason else "",
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
    build = _visible_build(request, build_id)
    context = _build_context(request, build)
    if wants_partial(request):
        return render(request, "hosts/partials/build_status.html", context)
    text, offset, cut = buildlogs.tail(build.pk)
    context.update(
        {
            "log_text": text,
            "log_cut": cut,
            "log_offset": offset,
            "log_polling": not build.is_final,
        }
    )
    return render(request, "hosts/build.html", context)


def _read_text(build_id, offset):
    """(text, next offset) from `offset`; a character cut at the chunk's end
    is left for the next read."""
    data, next_offset = buildlogs.read(build_id, offset)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(data, final=False)
    pending, _ = decoder.getstate()
    return text, next_offset - len(pending)


@require_safe
def build_log(request, build_id):
    """The log from ?offset=N as text (escaped) to append, and the poller
    again out of band with the next offset. It keeps polling while the build
    runs, or while text still comes; then it stops."""
    build = _visible_build(request, build_id)
    try:
        offset = int(request.GET.get("offset", "0"))
    except ValueError:
        return HttpResponse(
            "offset is a whole number of bytes", status=400, content_type="text/plain"
        )
    if not 0 <= offset <= MAX_LOG_OFFSET:
        return HttpResponse(
            f"offset is from 0 to {MAX_LOG_OFFSET}",
            status=400,
            content_type="text/plain",
        )
    text, next_offset = _read_text(build.pk, offset)
    context = {
        "build": build,
        "log_text": text,
        "log_offset": next_offset,
        "log_polling": not build.is_final or next_offset > offset,
        "oob": True,
    }
    response = render(request, "hosts/partials/build_log_chunk.html", context)
    response["X-Next-Offset"] = str(next_offset)
    return response


@require_safe
def build_log_download(request, build_id):
    """The whole log, streamed from its file, as a text attachment."""
    build = _visible_build(request, build_id)
    filename = f"build-{build.short_id}.log"
    path = buildlogs.path_of(build.pk)
    if not path.exists():
        response = HttpResponse(b"", content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=filename,
        content_type="text/plain; charset=utf-8",
    )


@require_POST
def build_cancel(request, build_id):
    """Ask the build to stop; answers the status fragment (or the page)."""
    build = _visible_build(request, build_id)
    was_final = build.is_final
    build = builds.cancel(request.user, build, request=request)
    if was_final:
        messages.info(request, f"The build had already {build.state}.")
    elif build.state == Build.State.CANCELLED:
        messages.success(request, "Build cancelled.")
    else:
        messages.info(request, "Cancelling: the build stops at its next step.")
    if not wants_partial(request):
        return redirect("build", build.pk)
    build = _visible_build(request, build.pk)
    return render(
        request, "hosts/partials/build_status.html", _build_context(request, build)
    )


# --- Deploy a pushed build ----------------------------------------------------------


class DeployForm(forms.Form):
    endpoint = forms.ModelChoiceField(
        queryset=Endpoint.objects.enabled(),
        empty_label=None,
        help_text="Pulls the pushed image by its digest there and runs it.",
    )
    command = forms.CharField(
        max_length=1000,
        required=False,
        help_text="Optional: instead of the image's own command.",
    )


def _deployments_of(user, build):
    return list(
        deployments.visible_to(user)
        .filter(image=pull_ref(build))
        .exclude(state=Deployment.State.REMOVED)[:DEPLOYMENTS_SHOWN]
    )


def _deployment_view(deployment):
    """A deployment as its fragment shows it: refreshed from the engine and
    with its last output, while it is on the engine."""
    if deployment.state in (Deployment.State.STARTING, Deployment.State.RUNNING):
        deployments.refresh(deployment)
    deployment.output = (
        deployments.logs(deployment)
        if deployment.state != Deployment.State.REMOVING
        else ""
    )
    deployment.polling = deployment.state in _ACTIVE_DEPLOYMENT_STATES
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
    build = _visible_build(request, build_id)
    form = DeployForm(request.POST)
    image = pull_ref(build)
    if build.state != Build.State.SUCCEEDED or not image:
        form.add_error(None, "Only a build that pushed its image can be deployed.")
    elif form.is_valid():
        try:
            deployment = deployments.create(
                request.user,
                {
                    "endpoint_id": form.cleaned_data["endpoint"].pk,
                    "image": image,
                    "command": form.cleaned_data["command"],
                },
                request=request,
            )
        except deployments.DeploymentInvalid as error:
            field = {"endpoint_id": "endpoint", "command": "command"}.get(error.field)
            form.add_error(field, error.message)
        else:
            messages.success(
                request,
                f"Deploying {image} on {deployment.endpoint.name}.",
            )
            form = DeployForm()
    if not wants_partial(request):
        return redirect("build", build.pk)
    context = {"build": build, "pull_ref": image}
    context.update(_deploy_context(request, build, form))
    return render(request, "hosts/partials/build_deploy.html", context)


def _visible_deployment(request, build, deployment_id):
    try:
        deployment = deployments.get_visible(request.user, deployment_id)
    except deployments.DeploymentNotFound:
        raise Http404("No such deployment.") from None
    if deployment.image != pull_ref(build):
        raise Http404("No such deployment of this build.")
    return deployment


@require_safe
def build_deployment(request, build_id, deployment_id):
    """One deployment's fragment (it polls itself while it changes)."""
    build = _visible_build(request, build_id)
    deployment = _visible_deployment(request, build, deployment_id)
    if not wants_partial(request):
        return redirect("build", build.pk)
    return render(
        request,
        "hosts/partials/build_deployment.html",
        {"build": build, "deployment": _deployment_view(deployment)},
    )


@require_POST
def build_deployment_remove(request, build_id, deployment_id):
    build = _visible_build(request, build_id)
    deployment = _visible_deployment(request, build, deployment_id)
    deployment = deployments.request_removal(request.user, deployment, request=request)
    messages.info(request, f"Removing {deployment.container_name}.")
    if not wants_partial(request):
        return redirect("build", build.pk)
    return render(
        request,
        "hosts/partials/build_deployment.html",
        {"build": build, "deployment": _deployment_view(deployment)},
    )
