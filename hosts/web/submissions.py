"""A form's POST handed to a use case, one way for every page: the form
checks shape, the use case meaning; a refusal comes back on the form."""

from django.contrib import messages
from django.shortcuts import redirect

from hosts.web import errors
from hosts.web.htmx import wants_partial


def submit(form, action):
    """(what `action(form)` made, None) when the form is valid and the use
    case accepts it; else (None, the status of the page that shows the form
    again with the reason)."""
    if not form.is_valid():
        return None, 400
    try:
        return action(form), None
    except errors.REFUSALS as error:
        errors.show_on_form(form, error)
        return None, errors.form_status(error)


def create_from_post(request, form_class, action, *, success, page):
    """An admin's create form posted: (form to show, status, response).

    Made: a message, and the form again blank, or a plain (non-HTMX) post is
    redirected to `page`. Refused: the form with the reason, and a 400.
    """
    form = form_class(request.POST)
    # Every refusal of a create form is a 400, a conflict too.
    created, _ = submit(form, action)
    if created is None:
        return form, 400, None
    messages.success(request, success(created))
    if not wants_partial(request):
        return form, 200, redirect(page)
    return form_class(), 200, None
