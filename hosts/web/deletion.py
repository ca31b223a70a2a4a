"""Deleting what admins registered (an endpoint, a registry, a certificate),
one way for each: a page that says what goes and asks to confirm, or says why
it cannot go (what still uses it) and offers no button. The use case checks
again when the form is posted: a refusal comes back on the same page, a 409.
A second click on Delete (the object already gone) lands on the list."""

from dataclasses import dataclass, field

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse

from hosts.web import errors


@dataclass
class Deletion:
    """What to delete, in words, and how."""

    title: str  # "endpoint “local”"
    back: str  # the list's URL name
    delete: object  # callable: the use case, raising a refusal
    blockers: list[str] = field(default_factory=list)  # what still uses it
    goes_with_it: str = ""  # what is deleted along, in words
    advice: str = ""  # what to do instead while it is in use


def confirm_or_delete(request, deletion: Deletion):
    """GET: the confirmation page. POST: delete, then back to the list with
    a message; refused: the page again with the reason (409)."""
    refusal = ""
    if request.method == "POST":
        try:
            deletion.delete()
        except errors.REFUSALS as error:
            refusal = getattr(error, "message", None) or str(error)
        else:
            messages.success(request, f"{_capfirst(deletion.title)} deleted.")
            return redirect(deletion.back)
    context = {
        "deletion": deletion,
        "refusal": refusal,
        "back_url": reverse(deletion.back),
    }
    return render(
        request,
        "hosts/deletion/confirm_delete.html",
        context,
        status=409 if refusal else 200,
    )


def already_gone(request, back: str):
    """A Delete posted for something no longer there (a double click): the
    list, which no longer shows it."""
    return redirect(back)


def _capfirst(text: str) -> str:
    return text[:1].upper() + text[1:]
