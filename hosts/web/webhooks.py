"""/webhooks/ (admins): the webhooks, a form to add one (its secret shown on
the answer, once), and each webhook's page with its delivery log, live while
a delivery may still change, where a delivery is sent again by hand. The
work is hosts/notifications/commands.py, as for /api/v1/webhooks."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from hosts.models import Notification, Webhook
from hosts.notifications import commands as notifications
from hosts.web import errors
from hosts.web.access import admin_required
from hosts.web.deletion import Deletion, already_gone, confirm_or_delete
from hosts.web.forms import ServiceForm
from hosts.web.htmx import wants_partial
from hosts.web.submissions import once, submit

PAGE = "hosts/webhooks/webhooks.html"
PANEL = "hosts/webhooks/partials/webhook_panel.html"
WEBHOOK_PAGE = "hosts/webhooks/webhook.html"
DELIVERY_LOG = "hosts/webhooks/partials/delivery_log.html"
ADMINS_ONLY = "Only admins may see or change webhooks."


class WebhookForm(ServiceForm):
    """Shape only; the command checks the URL, the events and the secret."""

    conflict_field = "name"  # another webhook has that name

    name = forms.CharField(
        max_length=notifications.NAME_MAX_LENGTH,
        help_text="To tell your webhooks apart, e.g. “Team chat”.",
    )
    url = forms.CharField(
        label="URL",
        max_length=notifications.URL_MAX_LENGTH,
        help_text="http:// or https://; it receives a POST for each event.",
        widget=forms.TextInput(
            attrs={"inputmode": "url", "placeholder": "https://ci.example.com/hooks"}
        ),
    )
    events = forms.MultipleChoiceField(
        label="Events",
        choices=Notification.Event.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="It is told of these only.",
    )
    format = forms.ChoiceField(
        label="Format",
        choices=Webhook.Format.choices,
        initial=Webhook.Format.GENERIC,
        widget=forms.RadioSelect,
        help_text='Slack-compatible: one sentence as {"text": …}.',
    )
    secret = forms.CharField(
        label="Secret (optional)",
        required=False,
        strip=False,
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "new-password"}
        ),
        help_text=f"At least {notifications.SECRET_MIN_LENGTH} characters. "
        "Leave it empty and dchweb makes one. Shown once, after you add the webhook.",
    )


def _webhook_or_404(webhook_id):
    webhook = Webhook.objects.filter(pk=webhook_id).first()
    if webhook is None:
        raise Http404("No such webhook.")
    return webhook


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required(ADMINS_ONLY)
@vary_on_headers("HX-Request")
def webhooks(request):
    """The list and the form. A webhook added: the page again with its
    secret on top and a blank form; refused: the form with the reason."""
    form = WebhookForm(request.POST or None)
    status, created = 200, None
    if request.method == "POST":
        made, status = submit(form, lambda form: _create(request, form.cleaned_data))
        if made is not None:
            # Sent twice (a double click), the second answer shows the same
            # webhook and secret: both answers belong to one showing.
            created = {"webhook": made, "secret": made.get_secret()}
            messages.success(request, f"Webhook “{made.name}” added.")
            form, status = WebhookForm(), 200
    context = {
        "webhooks": Webhook.objects.all(),
        "event_count": len(Notification.Event.values),
        "form": form,
        "created": created,
    }
    template = PANEL if wants_partial(request) else PAGE
    response = render(request, template, context, status=status)
    # The secret may be in this answer: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response


def _create(request, data):
    webhook, _ = notifications.create_webhook(
        request.user,
        name=data["name"],
        url=data["url"],
        events=data["events"],
        format=data["format"],
        secret=data["secret"],
        request=request,
    )
    return webhook


@require_http_methods(["GET", "HEAD"])
@admin_required(ADMINS_ONLY)
@vary_on_headers("HX-Request")
def webhook(request, webhook_id):
    """A webhook and its delivery log; an HTMX request gets the log alone
    (it polls while a delivery may still change)."""
    found = _webhook_or_404(webhook_id)
    context = _log_context(found)
    labels = dict(Notification.Event.choices)
    context["event_labels"] = [labels.get(event, event) for event in found.events]
    template = DELIVERY_LOG if wants_partial(request) else WEBHOOK_PAGE
    return render(request, template, context)


def _log_context(found):
    deliveries = notifications.delivery_log(found)
    return {
        "webhook": found,
        "deliveries": deliveries,
        "live": notifications.is_live(deliveries),
        "max_tries": notifications.MAX_TRIES,
    }


@require_POST
@admin_required(ADMINS_ONLY)
def webhook_redeliver(request, webhook_id, delivery_id):
    """Send a delivery again, as a new delivery; the log again. Posted twice
    with one submission key, it sends once."""
    found = _webhook_or_404(webhook_id)
    with errors.as_error_pages():
        delivery = notifications.get_delivery(request.user, found, delivery_id)
    try:
        again = once(
            request.POST,
            lambda: notifications.redeliver(request.user, delivery, request=request),
        )
    except errors.REFUSALS as error:
        # A key sent before whose delivery is gone, or one still being sent.
        context = {**_log_context(found), "refusal": error.message}
        return render(request, DELIVERY_LOG, context, status=error.status)
    messages.success(
        request,
        f"“{delivery.notification.get_event_display()}” is being sent again "
        f"as delivery {str(again.pk)[:8]}.",
    )
    if not wants_partial(request):
        return redirect("webhook", webhook_id=found.pk)
    return render(request, DELIVERY_LOG, _log_context(found))


@require_POST
@admin_required(ADMINS_ONLY)
def webhook_active(request, webhook_id):
    """Pause sending to a webhook, or send again (what waited meanwhile goes
    out then). The button says which it wants, so a double click or a page
    left open changes nothing twice."""
    found = _webhook_or_404(webhook_id)
    wanted = request.POST.get("active") == "true"
    if found.active != wanted:
        notifications.update_webhook(
            request.user, found, active=wanted, request=request
        )
        messages.success(
            request,
            f"Sending to “{found.name}” again: what waited goes out now."
            if wanted
            else f"Nothing is sent to “{found.name}” until you resume it.",
        )
    return redirect("webhook", webhook_id=found.pk)


@require_http_methods(["GET", "HEAD", "POST"])
@admin_required(ADMINS_ONLY)
def webhook_delete(request, webhook_id):
    """Asks first; its delivery log goes with it."""
    found = Webhook.objects.filter(pk=webhook_id).first()
    if found is None:
        if request.method == "POST":
            return already_gone(request, "webhooks")
        raise Http404("No such webhook.")
    deletion = Deletion(
        title=f"webhook “{found.name}”",
        back="webhooks",
        delete=lambda: notifications.delete_webhook(
            request.user, found, request=request
        ),
        goes_with_it="Its delivery log goes with it, and nothing more is sent "
        "to its URL.",
    )
    return confirm_or_delete(request, deletion)
