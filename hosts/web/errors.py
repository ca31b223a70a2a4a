"""The use cases' errors (hosts/core/errors.py) as pages show them, in one
place: a refusal of a form's input on the form (on the field it names), a
refusal of a button as a message, a missing object as the 404 page and a
forbidden one as the 403 page. The words are the error's own.

Also the project's own error pages where DEBUG would show Django's debug
pages (hosts.middleware.ProjectErrorPagesMiddleware)."""

import contextlib
import logging

from django.contrib import messages
from django.core import signals
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import Resolver404, get_resolver, get_urlconf, resolve
from django.utils.log import log_response

from hosts.core.errors import DchwebError, Forbidden, NotFound

# What a page shows as a refusal rather than a crash.
REFUSALS = DchwebError


def form_status(error) -> int:
    """The status of a page showing a form refused for `error`: its kind's,
    except that a reference to something not there is bad input (400)."""
    return 400 if isinstance(error, NotFound) else error.status


def show_on_form(form, error) -> None:
    """The error's message on the form: on the field it is about (the form
    says which: hosts/web/forms.py, `field_for`), else on the whole form."""
    field_for = getattr(form, "field_for", None)
    field = field_for(error) if field_for else None
    form.add_error(field, _message_of(error))


def show_as_message(request, error, wording: str = "{}") -> None:
    """The error as a page message; `wording` places its text ("Not
    removed: {}.")."""
    messages.error(request, wording.format(_message_of(error)))


@contextlib.contextmanager
def as_error_pages():
    """A missing object as the 404 page, a forbidden one as the 403 page
    (which shows the reason)."""
    try:
        yield
    except NotFound as error:
        raise Http404(error.message) from None
    except Forbidden as error:
        raise PermissionDenied(error.message) from None


def _message_of(error) -> str:
    return getattr(error, "message", None) or str(error)


# --- The project's own error pages, with DEBUG on too ---------------------------


CSRF_REFUSED = (
    "This form was refused: its security token (CSRF) is missing or out of "
    "date, as after signing in again in another tab. Reload the page and send "
    "it again."
)


def csrf_failure(request, reason=""):
    """settings.CSRF_FAILURE_VIEW: the 403 page with the reason in words."""
    return render(request, "403.html", {"exception": CSRF_REFUSED}, status=403)


def resolves(request) -> bool:
    """Whether some view answers this path."""
    try:
        resolve(request.path_info)
    except Resolver404:
        return False
    return True


def project_error_page(request, exception):
    """The page Django answers `exception` with when DEBUG is off (the
    project's 404.html, 400.html, 500.html), logged as Django logs it; None
    for the exceptions whose page DEBUG does not change (403, an unreadable
    upload), which Django answers itself."""
    if isinstance(exception, PermissionDenied | MultiPartParserError):
        return None
    if isinstance(exception, Http404):
        return _error_handler(404)(request, exception=exception)
    if isinstance(exception, BadRequest | SuspiciousOperation):
        return _bad_request_page(request, exception)
    signals.got_request_exception.send(sender=None, request=request)
    response = _error_handler(500)(request)
    log_response(
        "%s: %s",
        response.reason_phrase,
        request.path,
        response=response,
        request=request,
        exception=exception,
    )
    return response


def _error_handler(status):
    return get_resolver(get_urlconf()).resolve_error_handler(status)


def _bad_request_page(request, exception):
    suspicious = isinstance(exception, SuspiciousOperation)
    if isinstance(exception, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        # The body cannot be read again: say so rather than raise again.
        request._mark_post_parse_error()
    response = _error_handler(400)(request, exception=exception)
    # As Django does: a suspicious request goes to the security log.
    name = type(exception).__name__
    logger = logging.getLogger(
        f"django.security.{name}" if suspicious else "django.request"
    )
    log_response(
        "%s: %s",
        str(exception),
        request.path,
        response=response,
        request=request,
        exception=exception,
        logger=logger,
    )
    return response
