"""/account/notifications/: which events reach a person by mail, the address
they go to, and what they were told lately (hosts/notifications/)."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django.views.decorators.vary import vary_on_headers

from hosts.lib import event_words
from hosts.notifications import preferences
from hosts.web.forms import ServiceForm
from hosts.web.htmx import wants_partial
from hosts.web.submissions import submit
from hosts.web.words import MAIL_STATE_WORDS

PAGE = "hosts/account/notifications.html"
SETTINGS_PANEL = "hosts/account/partials/notification_settings.html"
RECENT_PANEL = "hosts/account/partials/notification_recent.html"
SAVED = "Saved: your mail follows these choices from now on."


class MailedEventsForm(ServiceForm):
    """The events to get by mail, out of those that concern this person."""

    mailed = forms.MultipleChoiceField(
        label="Mail me when",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mailed"].choices = preferences.events_for(user)
        self.fields["mailed"].initial = preferences.mailed_events(user)


@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def notifications(request):
    """The page; its recent list alone for the list's polling (`?part=recent`);
    a POST saves the choice and answers with the settings panel again."""
    user = request.user
    if request.method == "GET" and request.GET.get("part") == "recent":
        return render(request, RECENT_PANEL, _recent(user))
    form = MailedEventsForm(user, request.POST or None)
    status, saved = 200, None
    if request.method == "POST":
        saved, status = submit(form, lambda form: _save(request, form))
        if saved is not None:
            if not wants_partial(request):
                messages.success(request, SAVED)
                return redirect("account_notifications")
            form, status = MailedEventsForm(user), 200
    context = {
        "form": form,
        "address": user.email,
        "saved": SAVED if saved is not None else "",
        **_recent(user),
    }
    template = SETTINGS_PANEL if wants_partial(request) else PAGE
    return render(request, template, context, status=status)


def _save(request, form):
    return preferences.choose_mailed_events(
        request.user, form.cleaned_data["mailed"], request=request
    )


def _recent(user) -> dict:
    labels = dict(preferences.events_for(user))
    rows = [
        {
            "at": notification.at,
            "what": labels.get(notification.event, notification.get_event_display()),
            "sentence": event_words.describe(notification.event, notification.object),
            "url": _page_path(notification.object),
            "mail": MAIL_STATE_WORDS.get(
                notification.mail_state, notification.get_mail_state_display()
            ),
            "mail_state": notification.mail_state,
            "mail_error": notification.mail_error,
            "for_admins": notification.owner_id is None,
        }
        for notification in preferences.recent_for(user)
    ]
    return {"recent": rows}


def _page_path(obj) -> str:
    # Only a path of this site: the object is data, never a link elsewhere.
    path = str((obj or {}).get("url") or "")
    return path if path.startswith("/") and not path.startswith("//") else ""
