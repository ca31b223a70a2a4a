"""Pages and operational endpoints. Views do HTTP only: read the request,
call one service or query, render. A page answers an HTMX request with the
fragment it swaps (hosts/htmx.py: wants_partial)."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe
from django.views.decorators.vary import vary_on_headers

from hosts import certificates as certificate_service
from hosts import health, services, tokens
from hosts.forms import CertificateUploadForm
from hosts.htmx import wants_partial
from hosts.models import Endpoint, Registry
from hosts.permissions import is_admin

AUDIT_PAGE_SIZE = 50


def _page_or_fragment(request, page, fragment, context):
    template = fragment if wants_partial(request) else page
    return render(request, template, context)


# / ---------------------------------------------------------------------------


@require_safe
@vary_on_headers("HX-Request")
def home(request):
    context = {"endpoints": Endpoint.objects.all()}
    return _page_or_fragment(
        request, "hosts/home.html", "hosts/partials/endpoint_health.html", context
    )


@require_safe
@vary_on_headers("HX-Request")
def endpoints(request):
    context = {"endpoints": Endpoint.objects.all()}
    return _page_or_fragment(
        request, "hosts/endpoints.html", "hosts/partials/endpoint_table.html", context
    )


@require_safe
def registries(request):
    return render(
        request, "hosts/registries.html", {"registries": Registry.objects.all()}
    )


# /certificates/ ---------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def certificates(request):
    """The certificate table; admins also get the upload form. A rejected
    upload is a 400 that shows the form again with the reason."""
    admin = is_admin(request.user)
    form = CertificateUploadForm() if admin else None
    status = 200
    if request.method == "POST":
        if not admin:
            raise PermissionDenied("Only admins may add certificates.")
        form = CertificateUploadForm(request.POST)
        certificate = _upload_certificate(request, form)
        if certificate is None:
            status = 400
        else:
            messages.success(request, f"Certificate “{certificate.name}” added.")
            if not wants_partial(request):
                return redirect("certificates")
            form = CertificateUploadForm()
    context = {"certificates": certificate_service.certificates(), "form": form}
    template = (
        "hosts/partials/certificate_panel.html"
        if wants_partial(request)
        else "hosts/certificates.html"
    )
    return render(request, template, context, status=status)


def _upload_certificate(request, form):
    if not form.is_valid():
        return None
    data = form.cleaned_data
    try:
        return certificate_service.create_certificate(
            request.user,
            data["name"],
            data["pem"],
            data["private_key_pem"] or None,
            request=request,
        )
    except certificate_service.CertificateInvalid as error:
        form.add_error(None, error.message)
    except certificate_service.CertificateNameTaken as error:
        form.add_error("name", str(error))
    return None


# /audit/ (admins) ------------------------------------------------------------


@require_safe
@vary_on_headers("HX-Request")
def audit(request):
    if not is_admin(request.user):
        raise PermissionDenied("The audit trail is for admins.")
    action = request.GET.get("action", "").strip()
    actor = request.GET.get("actor", "").strip()
    events = services.audit_events(action=action, actor=actor)
    context = {
        "page": Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page")),
        "action": action,
        "actor": actor,
    }
    return _page_or_fragment(
        request, "hosts/audit.html", "hosts/partials/audit_table.html", context
    )


# Operations: no login page in front of these ----------------------------------


@require_safe
@never_cache
def healthz(request):
    """200 when the database and the broker answer, else 503 naming the part."""
    status = {"database": health.check_database(), "broker": health.check_broker()}
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse(status, status=200 if healthy else 503)


@require_safe
@never_cache
def metrics(request):
    """Prometheus text, for a signed-in user or a bearer token (scrapers)."""
    if not (request.user.is_authenticated or _bearer_user(request)):
        if "Authorization" in request.headers:
            return HttpResponse(
                "invalid API token\n", status=401, content_type="text/plain"
            )
        return redirect_to_login(request.get_full_path())
    return HttpResponse(
        health.metrics_text(), content_type="text/plain; version=0.0.4; charset=utf-8"
    )


def _bearer_user(request):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return tokens.user_for_token(token.strip())
