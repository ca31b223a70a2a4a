"""The use cases' errors (hosts/core/errors.py) as pages show them, in one
place: a refusal of a form's input on the form (on the field it names), a
refusal of a button as a message, a missing object as the 404 page and a
forbidden one as the 403 page. The words are the error's own."""

import contextlib

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404

from hosts.core.errors import (
    Conflict,
    DchwebError,
    Forbidden,
    NotFound,
    Unavailable,
)
from hosts.lib.x509 import CertificateInvalid

# What a page shows as a refusal rather than a crash: the project's errors,
# and the PEM parser's (hosts/lib sits below hosts/core, so it has its own).
REFUSALS = (DchwebError, CertificateInvalid)

# The status of a page that shows a refused form. Bad input, including a
# reference to something that is not there, is a 400.
_FORM_STATUS = ((Conflict, 409), (Forbidden, 403), (Unavailable, 503))


def form_status(error) -> int:
    """The status of a page showing a form refused for `error`."""
    for kind, status in _FORM_STATUS:
        if isinstance(error, kind):
            return status
    return 400


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
