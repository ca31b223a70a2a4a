"""/certificates/: the uploaded certificates, the CAs build hosts trust
(each host's own and its registries'; a developer sees their own hosts'),
and the installation CA when it exists; admins upload certificates and
rotate that CA."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from hosts.certificates import commands as certificate_service
from hosts.core import pki
from hosts.core.permissions import is_admin
from hosts.models import Certificate, CertificateAuthority
from hosts.web.access import admin_required
from hosts.web.deletion import Deletion, already_gone, confirm_or_delete
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
    ca = CertificateAuthority.objects.filter(active=True).first()
    context = {
        "certificates": certificate_service.certificates(),
        "form": form,
        "trusted": pki.trusted_cas(request.user),
        "ca": ca,
        # Only a CA that exists is rotated: the page offers nothing it lacks.
        "can_rotate": admin and ca is not None,
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


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required("Only admins may delete certificates.")
def certificate_delete(request, certificate_id):
    """Asks first; refused, with what still uses it, while an endpoint
    presents or verifies with it or a registry trusts it."""
    certificate = Certificate.objects.filter(pk=certificate_id).first()
    if certificate is None:
        if request.method == "POST":
            return already_gone(request, "certificates")
        raise Http404("No such certificate.")
    deletion = Deletion(
        title=f"certificate “{certificate.name}”",
        back="certificates",
        delete=lambda: certificate_service.delete_certificate(
            request.user, certificate, request=request
        ),
        blockers=certificate_service.uses_of(certificate),
        goes_with_it="Its private key, if one was stored, goes with it.",
    )
    return confirm_or_delete(request, deletion)


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
