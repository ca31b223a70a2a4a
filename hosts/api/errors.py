"""The API's one error shape, `{"error": code, "detail": text}` (plus
`reasons`, {name: why}, when a refusal gives one per thing tried), and the one
place errors become answers.

The project's own errors (hosts/core/errors.py) answer with the status of
their kind and their own `code`; ninja's and Django's with the status's code.
Bad input is a 400 with a readable detail, never a 500; an unexpected crash is
logged with its traceback and answered with a bare `internal` error.
"""

import logging

from django.conf import settings
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.http import Http404
from ninja.errors import AuthenticationError, HttpError, ValidationError

from hosts.core.errors import (
    DchwebError,
)

logger = logging.getLogger(__name__)

ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "throttled",
    500: "internal",
    503: "unavailable",
}


CHALLENGE = {"WWW-Authenticate": "Bearer"}


def error_code(status: int) -> str:
    """The code of an answer that has no more precise one."""
    return ERROR_CODES.get(status, "internal" if status >= 500 else "bad_request")


def error_body(
    status: int, detail: str, code: str | None = None, reasons: dict | None = None
) -> dict:
    """The error shape, here and in hosts.middleware (errors outside ninja);
    `reasons` ({name: why}) only when a refusal has them (hosts.core.errors
    .Conflict)."""
    body = {"error": code or error_code(status), "detail": detail}
    if reasons:
        body["reasons"] = reasons
    return body


def describe_validation_errors(errors: list[dict]) -> str:
    """`limit: Input should be greater than or equal to 1; ...`"""
    parts = []
    for error in errors:
        # loc is e.g. ("query", "limit"); the first element says where, the
        # rest names the field, which is what the caller recognises.
        location = [str(part) for part in error.get("loc", ())[1:]]
        field = ".".join(location) or "request"
        parts.append(f"{field}: {error.get('msg', 'invalid value')}")
    return "; ".join(parts) or "invalid request"


def install(api) -> None:
    """Register the handlers on a NinjaAPI."""

    def respond(request, status, detail, code=None, headers=None, reasons=None):
        response = api.create_response(
            request, error_body(status, detail, code, reasons), status=status
        )
        for name, value in (headers or {}).items():
            response[name] = value
        return response

    @api.exception_handler(DchwebError)
    def on_dchweb_error(request, exc):
        if type(exc) is DchwebError:  # a bug: no kind says what went wrong
            return on_unexpected(request, exc)
        # A 401 says how to authenticate (RFC 9110), whichever refusal it is.
        headers = CHALLENGE if exc.status == 401 else None
        reasons = getattr(exc, "reasons", None)
        return respond(request, exc.status, exc.message, exc.code, headers, reasons)

    @api.exception_handler(AuthenticationError)
    def on_authentication_error(request, exc):
        return respond(
            request,
            401,
            "a valid API token is required: Authorization: Bearer <token>",
            headers=CHALLENGE,
        )

    @api.exception_handler(HttpError)
    def on_http_error(request, exc):
        # Ninja wraps whatever the body parser raised in "Cannot parse request
        # body"; the parser's own refusal (hosts/api/parser.py) says more.
        if isinstance(exc.__cause__, DchwebError):
            return on_dchweb_error(request, exc.__cause__)
        return respond(request, exc.status_code, str(exc))

    @api.exception_handler(ValidationError)
    def on_validation_error(request, exc):
        return respond(request, 400, describe_validation_errors(exc.errors))

    @api.exception_handler(Http404)
    def on_not_found(request, exc):
        return respond(request, 404, str(exc) or "not found")

    @api.exception_handler(PermissionDenied)
    def on_permission_denied(request, exc):
        return respond(request, 403, str(exc) or "you may not do this")

    @api.exception_handler(RequestDataTooBig)
    def on_too_big(request, exc):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        detail = (
            f"the request body is larger than the {limit} bytes accepted; "
            "a context archive goes in a multipart upload"
        )
        return respond(request, 400, detail, "too_large")

    @api.exception_handler(SuspiciousOperation)
    def on_suspicious(request, exc):
        # Too many fields or files, a malformed multipart body...
        return respond(request, 400, str(exc) or "malformed request")

    @api.exception_handler(Exception)
    def on_unexpected(request, exc):
        logger.exception("API error on %s %s", request.method, request.path)
        return respond(request, 500, "internal error; the server log has the details")
