"""Admin page for build-host images with registry CAs embedded (the seed's
preferred method): make one, follow its build, make it an endpoint's default."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from hosts.images import commands as images
from hosts.models import BuildHostImage, Endpoint
from hosts.web import errors
from hosts.web.access import admin_required
from hosts.web.forms import CaImageForm
from hosts.web.htmx import wants_partial
from hosts.web.submissions import submit

IMAGES_SHOWN = 100
# Only a short decimal can be an endpoint's id: anything else is "none
# chosen", not a ValueError or an integer overflow in the database.
_ID_DIGITS = 12

ADMINS_ONLY = admin_required("Only admins may make build-host images.")


@ADMINS_ONLY
def build_host_images(request):
    form = CaImageForm(request.POST or None)
    status = 200
    if request.method == "POST":
        image, _ = submit(form, lambda form: _create(request, form.cleaned_data))
        if image is not None:
            messages.success(
                request, f"Building {image.ref}; it is ready when its build is."
            )
            return redirect("build_host_images")
        status = 400
    context = {
        "images": BuildHostImage.objects.select_related("build").prefetch_related(
            "registries"
        )[:IMAGES_SHOWN],
        "endpoints": Endpoint.objects.enabled(),
        "form": form,
    }
    context["building"] = any(i.state == "building" for i in context["images"])
    if wants_partial(request):
        return render(request, "hosts/images/partials/build_host_images.html", context)
    return render(
        request, "hosts/images/build_host_images.html", context, status=status
    )


def _create(request, data):
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


@require_POST
@ADMINS_ONLY
def make_default(request, image_id):
    image = get_object_or_404(BuildHostImage, pk=image_id)
    endpoint = _chosen_endpoint(request.POST.get("endpoint_id", ""))
    if endpoint is None:
        messages.error(request, "Choose an endpoint.")
        return redirect("build_host_images")
    try:
        images.make_default(request.user, image, endpoint, request=request)
    except errors.REFUSALS as error:
        errors.show_as_message(request, error)
    else:
        messages.success(
            request, f"{endpoint.name} now starts build hosts from {image.ref}."
        )
    return redirect("build_host_images")


def _chosen_endpoint(chosen):
    if not (chosen.isdecimal() and len(chosen) <= _ID_DIGITS):
        return None
    return Endpoint.objects.filter(pk=int(chosen)).first()
