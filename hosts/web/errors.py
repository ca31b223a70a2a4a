"""The use cases' errors (hosts/core/errors.py) as pages show them, in one
place: a refusal of a form's input on the form (on the field it names), a
refusal of a button as a message, a missing object as the 404 page and a
forbidden one as the 403 page. The words are the error's own."""

import contextlib

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404

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
