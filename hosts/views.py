"""Pages and operational endpoints. Views do HTTP only: read the request,
call one service or query, render. A page answers an HTMX request with the
fragment it swaps (hosts/htmx.py: wants_partial)."""

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import (
    require_http_methods,
    require_POST,
    require_safe,
)
from django.views.decorators.vary import vary_on_headers
from kombu.exceptions import OperationalError

from hosts import certificates as certificate_service
from hosts import endpoints as endpoint_service
from hosts import health, pki, services, tasks, tokens
from hosts import registries as registry_service
from hosts.forms import CertificateUploadForm, EndpointForm, RegistryForm
from hosts.htmx import wants_partial
from hosts.models import CertificateAuthority, Endpoint, Registry
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


def _submit_create_form(request, form_class, create, *, refusal, success, page):
    """An admin's POST of a create form: (form to show, status, response).

    On success the form comes back blank with a message, or a plain (non-HTMX)
    post is redirected to `page`; on a rejection it comes back with the reason
    and a 400.
    """
    if not is_admin(request.user):
        raise PermissionDenied(refusal)
    form = form_class(request.POST)
    created = create(request, form)
    if created is None:
        return form, 400, None
    messages.success(request, success(created))
    if not wants_partial(request):
        return form, 200, redirect(page)
    return form_class(), 200, None


# /endpoints/ ------------------------------------------------------------------


def _endpoint_rows():
    return Endpoint.objects.select_related("ca_certificate", "client_certificate")


@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def endpoints(request):
    """The endpoint table (it polls itself); admins also get the create form.
    A rejected create is a 400 that shows the form again with the reason."""
    admin = is_admin(request.user)
    if request.method != "POST":
        context = {
            "endpoints": _endpoint_rows(),
            "form": EndpointForm() if admin else None,
        }
        return _page_or_fragment(
            request,
            "hosts/endpoints.html",
            "hosts/partials/endpoint_table.html",
            context,
        )
    form, status, response = _submit_create_form(
        request,
        EndpointForm,
        _create_endpoint,
        refusal="Only admins may register endpoints.",
        success=lambda endpoint: f"Endpoint “{endpoint.name}” added; probing it now.",
        page="endpoints",
    )
    if response is not None:
        return response
    context = {"endpoints": _endpoint_rows(), "form": form, "oob_table": True}
    template = (
        "hosts/partials/endpoint_form.html"
        if wants_partial(request)
        else "hosts/endpoints.html"
    )
    return render(request, template, context, status=status)


# The form's fields are the service's, bar the certificates (rows, not ids).
_ENDPOINT_FORM_FIELDS = {
    "ca_certificate_id": "ca_certificate",
    "client_certificate_id": "client_certificate",
}


def _create_endpoint(request, form):
    if not form.is_valid():
        return None
    try:
        return endpoint_service.create_endpoint(
            request.user, form.cleaned_data, request=request
        )
    except endpoint_service.EndpointInvalid as error:
        field = _ENDPOINT_FORM_FIELDS.get(error.field, error.field)
        form.add_error(field if field in form.fields else None, error.message)
    except endpoint_service.CertificateNotFound as error:
        form.add_error(_ENDPOINT_FORM_FIELDS.get(error.field, error.field), str(error))
    except endpoint_service.EndpointNameTaken as error:
        form.add_error("name", str(error))
    return None


@require_POST
def endpoint_action(request, endpoint_id, action):
    """Probe now / Disable / Enable (admins): answers the table fragment."""
    if not is_admin(request.user):
        raise PermissionDenied("Only admins may probe, disable or enable endpoints.")
    endpoint = get_object_or_404(Endpoint, pk=endpoint_id)
    if action == "probe":
        if endpoint_service.request_probe(request.user, endpoint, request=request):
            messages.info(request, f"Probing “{endpoint.name}”…")
        else:
            messages.error(
                request, f"“{endpoint.name}” is disabled: enable it to probe it."
            )
    elif action in ("disable", "enable"):
        endpoint_service.set_endpoint_disabled(
            request.user, endpoint, action == "disable", request=request
        )
        messages.success(request, f"Endpoint “{endpoint.name}” {action}d.")
    else:
        raise Http404("no such endpoint action")
    if wants_partial(request):
        return render(
            request,
            "hosts/partials/endpoint_table.html",
            {"endpoints": _endpoint_rows()},
        )
    return redirect("endpoints")


# /registries/ -----------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def registries(request):
    """The registry table and trust matrix; admins also get the create form.
    A rejected create is a 400 that shows the form again with the reason."""
    admin = is_admin(request.user)
    form = RegistryForm() if admin else None
    status = 200
    if request.method == "POST":
        form, status, response = _submit_create_form(
            request,
            RegistryForm,
            _create_registry,
            refusal="Only admins may add registries.",
            success=lambda registry: f"Registry “{registry.name}” added.",
            page="registries",
        )
        if response is not None:
            return response
    context = {"registries": registry_service.registry_rows(), "form": form}
    if wants_partial(request):
        return render(
            request, "hosts/partials/registry_panel.html", context, status=status
        )
    context["matrix"] = registry_service.trust_matrix()
    return render(request, "hosts/registries.html", context, status=status)


def _create_registry(request, form):
    if not form.is_valid():
        return None
    try:
        return registry_service.create_registry(
            request.user, **form.cleaned_data, request=request
        )
    except registry_service.RegistryInvalid as error:
        form.add_error(
            error.field if error.field in form.fields else None, error.message
        )
    except registry_service.RegistryExists as error:
        form.add_error(None, str(error))
    return None


@require_POST
def registry_check(request, registry_id):
    """Admins: check one registry now; answers with its table row."""
    if not is_admin(request.user):
        raise PermissionDenied("Only admins may check registries.")
    if not Registry.objects.filter(pk=registry_id).exists():
        raise Http404("No such registry.")
    registry = registry_service.check_registry(
        registry_id, request.user, source=None, request=request
    )
    registry.ca = registry_service.ca_expiry(registry)
    return render(request, "hosts/partials/registry_row.html", {"registry": registry})


@require_http_methods(["GET", "HEAD", "POST"])
def registry_trust(request):
    """The trust matrix fragment. POST (admins) queues a recheck in the worker;
    the fragment then polls until every cell is newer than the request."""
    pending_since = None
    error = ""
    if request.method == "POST":
        if not is_admin(request.user):
            raise PermissionDenied("Only admins may recheck registry trust.")
        pending_since = timezone.now().timestamp()
        try:
            tasks.check_registry_trust.delay()
        except OperationalError:
            pending_since = None
            error = "The task queue does not answer: is Redis up? Try again later."
    else:
        pending_since = _float_or_none(request.GET.get("since"))
    matrix = registry_service.trust_matrix()
    if pending_since is not None and _trust_done(matrix, pending_since):
        pending_since = None
    context = {"matrix": matrix, "pending_since": pending_since, "error": error}
    return render(request, "hosts/partials/registry_trust.html", context)


def _float_or_none(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _trust_done(matrix, since):
    # Give up polling after two minutes: a lost task must not poll forever.
    if timezone.now().timestamp() - since > 120:
        return True
    return matrix.checked_at is not None and matrix.checked_at.timestamp() >= since


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
        form, status, response = _submit_create_form(
            request,
            CertificateUploadForm,
            _upload_certificate,
            refusal="Only admins may add certificates.",
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


@require_POST
def certificate_authority_rotate(request):
    """Admins only: a new active CA for dchweb; answers with the CA panel."""
    if not is_admin(request.user):
        raise PermissionDenied("Only admins may rotate dchweb's CA.")
    ca = pki.rotate_ca(request.user, request=request)
    messages.success(request, "dchweb's CA was rotated.")
    if not wants_partial(request):
        return redirect("certificates")
    context = {"ca": ca, "can_rotate": True}
    return render(request, "hosts/partials/ca_panel.html", context)


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
