"""/images/: the images builds pushed through dchweb (yours; admins see
everyone's), with the build that pushed each, and Delete: the manifest goes
at the registry, by digest. The work is hosts/images/commands.py, as for
/api/v1/images. (Images *of* build hosts are /build-host-images/.)"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe
from django.views.decorators.vary import vary_on_headers

from hosts.core.permissions import is_admin
from hosts.images import commands as images
from hosts.web import errors
from hosts.web.htmx import wants_partial

PAGE = "hosts/pushed_images/pushed_images.html"
PANEL = "hosts/pushed_images/partials/pushed_image_table.html"
IMAGES_SHOWN = 200


@require_safe
@vary_on_headers("HX-Request")
def pushed_images(request):
    template = PANEL if wants_partial(request) else PAGE
    return render(request, template, _context(request))


def _context(request):
    shown = images.visible_pushed_images(request.user)[:IMAGES_SHOWN]
    return {"images": shown, "show_owner": is_admin(request.user)}


@require_POST
def pushed_image_delete(request, pushed_image_id):
    """Delete one (another developer's: 404). Refused (the registry says no,
    or a build host runs from it): the reason as a message, nothing marked."""
    with errors.as_error_pages():
        image = images.get_pushed_image(request.user, pushed_image_id)
    was_present = not image.is_deleted
    try:
        images.delete_pushed_image(request.user, image, request=request)
    except errors.REFUSALS as error:
        errors.show_as_message(request, error, f"{image.reference} not deleted: {{}}.")
    else:
        if was_present:
            messages.success(
                request,
                f"{image.reference} deleted at the registry (its manifest "
                f"{image.digest[:19]}…).",
            )
    if not wants_partial(request):
        return redirect("pushed_images")
    return render(request, PANEL, _context(request))
