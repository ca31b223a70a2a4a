"""Project-wide request handling: login everywhere, JSON errors on the API,
Django messages on HTMX swaps, the Content-Security-Policy header."""

import json
from http import HTTPStatus

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import Http404, HttpResponse
from django.template.loader import render_to_string

from hosts.api.errors import error_body
from hosts.web.errors import project_error_page, resolves


class LoginRequiredExceptPublicPathsMiddleware(LoginRequiredMiddleware):
    """Django's LoginRequiredMiddleware, minus the paths that authenticate
    differently (the API's bearer tokens) or not at all (/healthz, static)."""

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path.startswith(settings.LOGIN_EXEMPT_PATH_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class ProjectErrorPagesMiddleware:
    """The project's own 404, 400 and 500 pages with DEBUG on too.

    With DEBUG on, Django answers an unknown URL with every URL pattern and a
    crash with its traceback, to anyone who reaches the dashboard, signed in
    or not; `make run` has DEBUG on. Unless DCHWEB_DEBUG_PAGES asks for
    Django's pages, this answers as Django does with DEBUG off: an unknown
    URL before any view (so before the login check: a visitor not signed in
    gets the 404 page too), and what a view raises (hosts/web/errors.py).
    With DEBUG off it steps aside: Django does the same by itself.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._active() and not resolves(request):
            return project_error_page(request, Http404("no such page"))
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not self._active() or settings.DEBUG_PROPAGATE_EXCEPTIONS:
            return None
        return project_error_page(request, exception)

    @staticmethod
    def _active() -> bool:
        return settings.DEBUG and not getattr(settings, "DCHWEB_DEBUG_PAGES", False)


class ContentSecurityPolicyMiddleware:
    """The Content-Security-Policy header (settings.CONTENT_SECURITY_POLICY) on
    every response: pages, fragments, the API, static files, /healthz.

    The pages hold no inline script or style, and neither does the Swagger UI
    of /api/v1/docs (ninja loads its init code from a static file), so one
    policy fits every path. One exception, in development only: with
    DCHWEB_DEBUG_PAGES (and DEBUG) on, Django's technical 404 and 500 pages
    style and script themselves inline, so an HTML error answer goes without
    the header there.
    """

    HEADER = "Content-Security-Policy"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if self.HEADER in response or self._is_debug_error_page(response):
            return response
        response[self.HEADER] = settings.CONTENT_SECURITY_POLICY
        return response

    @staticmethod
    def _is_debug_error_page(response) -> bool:
        return (
            settings.DEBUG
            and getattr(settings, "DCHWEB_DEBUG_PAGES", False)
            and response.status_code >= 400
            and response.get("Content-Type", "").startswith("text/html")
        )


class ApiErrorsAsJsonMiddleware:
    """Every API error is `{"error": code, "detail": text}`.

    Ninja's handlers (hosts/api/errors.py) cover errors raised inside an
    operation; this covers what Django answers on its own, in the same shape
    and codes (error_body): an unknown route (404), a method the route lacks
    (405), a crash outside an operation (500).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not request.path.startswith("/api/") or response.status_code < 400:
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response
        return self._as_json(request, response)

    def _as_json(self, request, response):
        status = response.status_code
        if status == 404:
            detail = f"no such API route: {request.method} {request.path}"
        elif status == 405:
            allowed = response.get("Allow", "")
            detail = f"{request.method} is not allowed here; allowed: {allowed}"
        else:
            detail = _reason(status)
        response.content = json.dumps(error_body(status, detail)).encode()
        response["Content-Type"] = "application/json"
        response["Content-Length"] = str(len(response.content))
        return response


class RequestSizeLimitMiddleware:
    """Refuse a body larger than the largest context upload before Django
    reads it (multipart files would otherwise be spooled to disk whole): a
    400 `too_large`, as design.md §5 wants for oversize uploads."""

    SLACK_BYTES = 1024 * 1024  # the other form fields

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.DCHWEB_MAX_CONTEXT_BYTES + self.SLACK_BYTES
        if length > limit:
            detail = f"the request is {length} bytes; the most accepted is {limit}"
            return _bad_request(request, "too_large", detail)
        return self.get_response(request)


class NulInQueryRefusedMiddleware:
    """Refuse a query string holding a NUL character (%00) with a 400: no
    filter or name can contain one, and PostgreSQL cannot even compare text
    with it (the query would fail as a 500). Bodies are checked where they are
    parsed: Django forms refuse NUL, and so does the API's parser."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        for key, values in request.GET.lists():
            if any("\x00" in text for text in (key, *values)):
                detail = f"the query parameter {key!r} holds a NUL character"
                return _bad_request(request, "bad_request", detail)
        return self.get_response(request)


def _bad_request(request, code, detail):
    """A 400 before any view: the API's JSON error shape under /api/, plain
    text elsewhere."""
    if request.path.startswith("/api/"):
        body = json.dumps(error_body(400, detail, code))
        return HttpResponse(body, status=400, content_type="application/json")
    return HttpResponse(detail, status=400, content_type="text/plain")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "error"


class HtmxMessagesMiddleware:
    """Django messages on HTMX responses, as an out-of-band swap of #messages.

    A full page shows messages through base.html; a fragment swap would leave
    them queued until the next full page. Rendering them here (once, only if
    the response's template did not already show them) puts them on screen
    with the swap that caused them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not getattr(request, "htmx", False) or not self._is_swappable(response):
            return response
        storage = messages.get_messages(request)
        if storage.used:
            return response
        pending = list(storage)
        if pending:
            html = render_to_string(
                "partials/messages.html",
                {"messages": pending, "oob": True},
                request=request,
            )
            response.content += html.encode()
        return response

    @staticmethod
    def _is_swappable(response) -> bool:
        return (
            200 <= response.status_code < 300
            and not getattr(response, "streaming", False)
            and response.get("Content-Type", "").startswith("text/html")
            and "HX-Redirect" not in response
        )
