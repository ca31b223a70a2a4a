"""/certificates/: the certificate table and dchweb's own CA; admins upload
certificates and rotate the CA."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from hosts.certificates import commands as certificate_service
from hosts.core import pki
from hosts.core.permissions import is_admin
from hosts.models import CertificateAuthority
from hosts.web.access import admin_required
from hosts.web.forms import CertificateUploadForm
from hosts.web.htmx import page_or_fragment, wants_partial
from hosts.web.submissions import create_from_post


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required("Only admins may add certificates.", methods=("POST",))
@vary_on_headers("HX-Request")
def certificates(request):
    """The certificate table; admins also get the upload form. A rejected
    upload is a 400 that shows the form again with the reason."""
    admin = is_admin(request.user)
    form = CertificateUploadForm() if admin else None
    status = 200
    if request.method == "POST":
        form, status, response = create_from_post(
            request,
            CertificateUploadForm,
            lambda form: _upload_certificate(request, form.cleaned_data),
            success=lambda certificate: f"Certificate “{certificate.name}” added.",
            page="certificates",
        )
        if response is not None:
            return response
    context = {
        "certificates": certificate_service.certificates(),
        "form": form,
        "ca": CertificateAuthority.objects.filter(active=True).first(),
        "can_rotate": admin,
    }
    return page_or_fragment(
        request,
        "hosts/certificates/certificates.html",
        "hosts/certificates/partials/certificate_panel.html",
        context,
        status=status,
    )


def _upload_certificate(request, data):
    return certificate_service.create_certificate(
        request.user,
        data["name"],
        data["pem"],
        data["private_key_pem"] or None,
        request=request,
    )


@require_POST
@admin_required("Only admins may rotate dchweb's CA.")
def certificate_authority_rotate(request):
    """A new active CA for dchweb; answers with the CA panel."""
    ca = pki.rotate_ca(request.user, request=request)
    messages.success(request, "dchweb's CA was rotated.")
    if not wants_partial(request):
        return redirect("certificates")
    context = {"ca": ca, "can_rotate": True}
    return render(request, "hosts/certificates/partials/ca_panel.html", context)
