"""The one hierarchy of errors a request can meet. Each says what is wrong in
words for people (`message`) and carries a `code` for the API; the API maps
them to its error shape in one place (hosts/api/errors.py) and the pages to
messages in one place (hosts/web/errors.py).

Errors inside the worker (a failed provisioning step, an engine that does not
answer) are not these: they end as a failed step with its reason."""


class DchwebError(Exception):
    """Raised bare it is a bug: each kind below says what went wrong, with the
    HTTP status the API answers and a refused form's page carries."""

    code = "error"
    status = 500

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code


class Invalid(DchwebError, ValueError):
    """Bad input (400); `field` names the setting at fault, when one is."""

    code = "invalid"
    status = 400

    def __init__(self, message: str, field: str | None = None, *, code=None):
        super().__init__(message, code=code)
        self.field = field


class Unauthorized(DchwebError):
    """The credentials presented are no good (401): an expired API token."""

    code = "unauthorized"
    status = 401


class NotFound(DchwebError):
    """No such object, or not one the asker may see (404)."""

    code = "not_found"
    status = 404


class Forbidden(DchwebError):
    """Not for this user (403): an admin's action, say."""

    code = "forbidden"
    status = 403


class Conflict(DchwebError):
    """The request cannot be met as things stand (409); `code` says why, and
    `reasons` ({name: why}, optional) why not for each thing tried (every
    endpoint, when none can take a build host): the API adds them."""

    code = "conflict"
    status = 409

    def __init__(
        self, message: str, code: str | None = None, reasons: dict | None = None
    ):
        super().__init__(message, code=code)
        self.reasons = reasons or {}


class Unavailable(DchwebError):
    """A part dchweb depends on does not answer now (503)."""

    code = "unavailable"
    status = 503
