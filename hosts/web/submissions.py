"""A form's POST handed to a use case, one way for every page: the form
checks shape, the use case meaning; a refusal comes back on the form.

A form is also safe to send twice (a double click, a key pressed twice, the
browser's "send again"): each form as rendered carries a one-time submission
key (`{% submission_field %}`, hosts/templatetags/submission_tags.py), and
the first POST with a key claims it. A repeated POST with the same key
creates nothing: it waits for the first to finish and answers with what the
first made, so both answers show the same object. The pages' script also
disables a form's buttons while it is being sent (static/js/dchweb.js); this
is the part that holds when two requests get through anyway.

The keys live in the `submissions` cache (dchweb/settings.py): one that
every web process sees, since two clicks may reach two processes. A cache
that does not answer costs the protection, never the form: the POST goes on
as if it carried no key, and the failure is logged.
"""

import logging
import re
import secrets
import time

from django.apps import apps
from django.conf import settings
from django.contrib import messages
from django.core.cache import caches
from django.shortcuts import redirect

from hosts.core.errors import Conflict
from hosts.web import errors
from hosts.web.htmx import wants_partial

logger = logging.getLogger(__name__)

SUBMISSION_FIELD = "submission_key"
SUBMISSION_CACHE = "submissions"
# A key is remembered this long: past it, a form kept open in a tab since is
# a new submission.
REMEMBER_SECONDS = 60 * 60
# A repeat waits at most this long for the first to finish.
WAIT_SECONDS = 30
POLL_SECONDS = 0.1
_PENDING = "pending"
# What the pages and the script make: URL-safe text, long enough to be
# unguessable. Anything else is no key.
_KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


class StillSending(Conflict):
    """The first POST with this key has not finished in time."""

    def __init__(self):
        super().__init__(
            "This form is already being sent and has not finished yet: "
            "reload the page in a moment to see what it made.",
            code="submission_pending",
        )


class SentBefore(Conflict):
    """The key was used, and what it made is gone since."""

    def __init__(self):
        super().__init__(
            "This form was sent before, and what it made is gone since: "
            "reload the page to send it again.",
            code="submission_used",
        )


def new_submission_key() -> str:
    return secrets.token_urlsafe(24)


def submission_key(data) -> str:
    """The submission key a POST carries (a QueryDict), or "" for none."""
    key = data.get(SUBMISSION_FIELD, "") if data is not None else ""
    return key if isinstance(key, str) and _KEY_SHAPE.fullmatch(key) else ""


def once(data, action):
    """`action()` once per submission key found in `data` (the POST): a
    repeat returns the object the first call made (loaded again) instead of
    calling it. A first call that raises releases the key, so sending the
    form again (corrected, or the same) is tried again. Without a key,
    `action()` runs as it is."""
    key = submission_key(data)
    if not key:
        return action()
    slot = f"submission:{key}"
    deadline = time.monotonic() + WAIT_SECONDS
    while not _claim(slot):
        earlier = _store_get(slot)
        if earlier is not None and earlier != _PENDING:
            return _made_before(earlier)
        if time.monotonic() > deadline:
            raise StillSending()
        time.sleep(POLL_SECONDS)
    try:
        made = action()
    except BaseException:
        _store_call("delete", slot)
        raise
    _store_call("set", slot, _record_of(made), REMEMBER_SECONDS)
    return made


def _store():
    alias = SUBMISSION_CACHE if SUBMISSION_CACHE in settings.CACHES else "default"
    return caches[alias]


def _store_call(method, *args):
    """A cache call; None (and a log line) if the cache does not answer."""
    try:
        return getattr(_store(), method)(*args)
    except Exception:
        logger.warning("submission keys: the cache did not answer", exc_info=True)
        return None


def _claim(slot) -> bool:
    """True: this request goes on (it claimed the key, or the cache does not
    answer). False: another request holds the key."""
    claimed = _store_call("add", slot, _PENDING, REMEMBER_SECONDS)
    return claimed is None or claimed


def _store_get(slot):
    return _store_call("get", slot)


def _record_of(made) -> dict:
    meta = getattr(made, "_meta", None)
    if meta is None or getattr(made, "pk", None) is None:
        return {"model": "", "pk": ""}
    return {"model": meta.label, "pk": str(made.pk)}


def _made_before(record):
    if not isinstance(record, dict) or not record.get("model"):
        raise SentBefore()
    model = apps.get_model(record["model"])
    made = model._default_manager.filter(pk=record["pk"]).first()
    if made is None:
        raise SentBefore()
    return made


def submit(form, action):
    """(what `action(form)` made, None) when the form is valid and the use
    case accepts it; else (None, the status of the page that shows the form
    again with the reason). Sent twice with one submission key, the second
    gets what the first made."""
    if not form.is_valid():
        return None, 400
    try:
        return once(form.data, lambda: action(form)), None
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
