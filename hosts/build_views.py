"""Build pages: ask for a build (on one of your build hosts, or on an
ephemeral one), follow its log live, download it whole, cancel it, and run
the pushed image on an endpoint."""

from django import forms
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST, require_safe

from hosts import buildhosts, buildlogs, builds, deployments
from hosts.htmx import wants_partial
from hosts.models import Build, BuildHost, Endpoint


class BuildForm(forms.Form):
    context = forms.FileField(
        required=False, help_text="A tar or tar.gz of the build context."
    )
    dockerfile_text = forms.CharField(
        label="…or a Dockerfile",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "placeholder": "FROM …"}),
        strip=False,
    )
    dockerfile = forms.CharField(
        label="Dockerfile path", initial="Dockerfile", required=False
    )
    tag = forms.CharField(
        help_text="registry/project/name:tag (several: separate with spaces)"
    )
    build_args = forms.CharField(label="Build args (JSON)", required=False, initial="")
    push = forms.BooleanField(required=False, initial=True)
    build_host_id = forms.CharField(required=False, widget=forms.HiddenInput)
    endpoint_id = forms.ModelChoiceField(
        label="Endpoint (a build host made for this build)",
        queryset=Endpoint.objects.exclude(health=Endpoint.Health.DISABLED),
        required=False,
    )
    volume_policy = forms.ChoiceField(
        choices=[("delete", "delete its volumes"), ("keep", "keep its volumes")],
        required=False,
    )


def build_form_for(host=None):
    """The form on a ready build host's page, or the ephemeral one (home)."""
    if host is not None:
        form = BuildForm(initial={"build_host_id": str(host.pk)})
        for name in ("endpoint_id", "volume_policy"):
            del form.fields[name]
        return form
    return BuildForm()


def new_build(request):
    """POST target of the build forms; a refused build shows the form again."""
    form = BuildForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = {
            key: value for key, value in form.cleaned_data.items() if key != "context"
        }
        data["endpoint_id"] = data["endpoint_id"].pk if data["endpoint_id"] else None
        try:
            build = builds.create_build(
                request.user, data, upload=form.cleaned_data["context"], request=request
            )
        except builds.BuildInvalid as error:
            form.add_error(None, error.message)
        except buildhosts.BuildHostConflict as error:
            form.add_error(None, error.message)
        else:
            return redirect("build", build_id=build.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "hosts/build_new.html", {"form": form}, status=status)


def _visible(request, build_id):
    try:
        return builds.get_visible(request.user, build_id)
    except builds.BuildNotFound:
        raise Http404("no such build") from None


@require_safe
def build(request, build_id):
    found = _visible(request, build_id)
    context = {"build": found, "deployments": _deployments(request, found)}
    if wants_partial(request):
        return render(request, "hosts/partials/build_status.html", context)
    text, offset, cut = buildlogs.tail(found.pk)
    context.update(
        log_text=text,
        log_offset=offset,
        log_cut=cut,
        endpoints=Endpoint.objects.exclude(health=Endpoint.Health.DISABLED),
    )
    return render(request, "hosts/build.html", context)


@require_safe
def build_log(request, build_id):
    """New log text from `offset`, appended to the page; the poller comes
    back with the next offset until the build is final and read to its end."""
    found = _visible(request, build_id)
    try:
        offset = max(0, int(request.GET.get("offset", "0")))
    except ValueError:
        offset = 0
    data, next_offset = buildlogs.read(found.pk, offset)
    more = bool(data) or not found.is_final
    return render(
        request,
        "hosts/partials/build_log_chunk.html",
        {
            "build": found,
            "text": data.decode(errors="replace"),
            "offset": next_offset,
            "more": more,
        },
    )


@require_safe
def build_log_download(request, build_id):
    found = _visible(request, build_id)
    path = buildlogs.path_of(found.pk)
    if not path.exists():
        return HttpResponse("", content_type="text/plain; charset=utf-8")
    return FileResponse(
        path.open("rb"),
        as_attachment=True,
        filename=f"build-{found.short_id}.log",
        content_type="text/plain; charset=utf-8",
    )


@require_POST
def build_cancel(request, build_id):
    found = builds.cancel(request.user, _visible(request, build_id), request=request)
    if wants_partial(request):
        context = {"build": found, "deployments": _deployments(request, found)}
        return render(request, "hosts/partials/build_status.html", context)
    return redirect("build", build_id=found.pk)


@require_POST
def build_deploy(request, build_id):
    """Run the pushed image, by its digest, on an endpoint."""
    found = _visible(request, build_id)
    if found.state != Build.State.SUCCEEDED or not found.digest:
        return HttpResponse("Only a pushed build can be deployed.", status=409)
    image = f"{found.image_ref.rsplit(':', 1)[0]}@{found.digest}"
    try:
        deployments.create(
            request.user,
            {"endpoint_id": request.POST.get("endpoint_id"), "image": image},
            request=request,
        )
    except deployments.DeploymentInvalid as error:
        return HttpResponse(error.message, status=400)
    return redirect(reverse("build", kwargs={"build_id": found.pk}) + "#deployments")


@require_POST
def deployment_remove(request, deployment_id):
    try:
        deployment = deployments.get_visible(request.user, deployment_id)
    except deployments.DeploymentNotFound:
        raise Http404("no such deployment") from None
    deployments.request_removal(request.user, deployment, request=request)
    return redirect("home")


def _deployments(request, found):
    if not found.digest:
        return []
    prefix = found.image_ref.rsplit(":", 1)[0] + "@" + found.digest
    mine = deployments.visible_to(request.user).filter(image=prefix)[:10]
    return [deployments.refresh(deployment) for deployment in mine]


def my_builds(user, limit=10):
    return builds.visible_to(user).filter(owner=user)[:limit]


def ready_host(host: BuildHost) -> bool:
    return host.state in (BuildHost.State.READY, BuildHost.State.BUSY)
