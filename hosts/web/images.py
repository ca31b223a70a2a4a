"""Admin page for build-host images with registry CAs embedded (the seed's
preferred method): make one, follow its build, make it an endpoint's default."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from hosts.buildhosts import commands as buildhosts
from hosts.core.permissions import is_admin
from hosts.images import commands as images
from hosts.models import BuildHostImage, Endpoint, Registry
from hosts.web.htmx import wants_partial


class CaImageForm(forms.Form):
    endpoint = forms.ModelChoiceField(
        queryset=Endpoint.objects.enabled(),
        help_text="Where the ephemeral build host that builds it runs.",
    )
    registries = forms.ModelMultipleChoiceField(
        queryset=Registry.objects.exclude(ca_pem=""),
        widget=forms.CheckboxSelectMultiple,
        help_text="Their CAs go into /etc/docker/certs.d/ in the image.",
    )
    name = forms.CharField(max_length=100, required=False, initial=images.DEFAULT_NAME)
    tag = forms.CharField(
        max_length=128, required=False, help_text="Default: a timestamp."
    )


def _admin_only(request):
    if not is_admin(request.user):
        raise PermissionDenied("Only admins may make build-host images.")


def build_host_images(request):
    _admin_only(request)
    form = CaImageForm(request.POST or None)
    status = 200
    if request.method == "POST":
        image = _create(request, form)
        if image is not None:
            messages.success(
                request, f"Building {image.ref}; it is ready when its build is."
            )
            return redirect("build_host_images")
        status = 400
    context = {
        "images": BuildHostImage.objects.select_related("build").prefetch_related(
            "registries"
        )[:100],
        "endpoints": Endpoint.objects.enabled(),
        "form": form,
    }
    context["building"] = any(i.state == "building" for i in context["images"])
    if wants_partial(request):
        return render(request, "hosts/partials/build_host_image_table.html", context)
    return render(request, "hosts/build_host_images.html", context, status=status)


def _create(request, form):
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        return images.create_ca_image(
            request.user,
            {
                "endpoint_id": data["endpoint"].pk,
                "registry_ids": [registry.pk for registry in data["registries"]],
                "name": data["name"],
                "tag": data["tag"],
            },
            request=request,
        )
    except images.ImageInvalid as error:
        form.add_error(None, error.message)
    except buildhosts.BuildHostConflict as error:
        form.add_error(None, error.message)
    return None


@require_POST
def make_default(request, image_id):
    _admin_only(request)
    image = get_object_or_404(BuildHostImage, pk=image_id)
    chosen = request.POST.get("endpoint_id", "")
    # Only a short decimal can be an id: anything else is "none chosen", not
    # a ValueError or an integer overflow in the database.
    is_id = chosen.isdecimal() and len(chosen) <= 12
    endpoint = Endpoint.objects.filter(pk=int(chosen)).first() if is_id else None
    if endpoint is None:
        messages.error(request, "Choose an endpoint.")
        return redirect("build_host_images")
    try:
        images.make_default(request.user, image, endpoint, request=request)
    except images.ImageInvalid as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request, f"{endpoint.name} now starts build hosts from {image.ref}."
        )
    return redirect("build_host_images")
