"""Pages and operational endpoints. Views do HTTP only: read the request,
call one service or query, render. A page answers an HTMX request with the
fragment it swaps (hosts/htmx.py: wants_partial)."""

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from django.views.decorators.vary import vary_on_headers

from hosts import health, services, tokens
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
