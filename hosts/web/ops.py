"""Operations: /healthz and /metrics, with no login page in front of them
(a load balancer and a Prometheus scraper call them)."""

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from hosts.core import tokens
from hosts.ops import health
from hosts.ops.metrics import exposition


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
        exposition(), content_type="text/plain; version=0.0.4; charset=utf-8"
    )


def _bearer_user(request):
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return tokens.user_for_token(token.strip())
