"""/account/tokens/: a person's own API tokens. They make one (its secret
shown on the answer, once, never stored), see what each does now, and revoke
their own. The work is hosts/accounts/commands.py, as for /api/v1/tokens."""

import secrets
from typing import ClassVar

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.validators import MaxValueValidator
from django.shortcuts import redirect, render
from django.utils.text import capfirst
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from hosts.accounts import commands as accounts
from hosts.core.errors import Conflict
from hosts.models import ApiToken
from hosts.web import errors
from hosts.web.forms import ServiceForm
from hosts.web.htmx import wants_partial
from hosts.web.submissions import submit

PAGE = "hosts/account/tokens.html"
PANEL = "hosts/account/partials/token_panel.html"


def _new_submission_key() -> str:
    return secrets.token_urlsafe(24)


class TokenForm(ServiceForm):
    """Shape, and the days' range in the page's words; the command checks
    the name and the days again. `submission` is the form's one-time key:
    posted twice (a double click, a reload), it makes one token."""

    service_fields: ClassVar[dict[str, str | None]] = {"expires_at": "expires_days"}

    name = forms.CharField(
        max_length=accounts.TOKEN_NAME_MAX_LENGTH,
        help_text="To tell your tokens apart, e.g. “CI on main”.",
    )
    scope = forms.ChoiceField(
        label="Access",
        choices=ApiToken.Scope.choices,
        initial=ApiToken.Scope.READ,
        widget=forms.RadioSelect,
        help_text="Read only: it can look, never change anything.",
    )
    expires_days = forms.IntegerField(
        label="Expires after (days)",
        min_value=1,
        initial=accounts.DEFAULT_TOKEN_DAYS,
    )
    submission = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"submission": _new_submission_key()})
        super().__init__(*args, **kwargs)
        # The longest an admin allows, read now (settings may change).
        longest = settings.DCHWEB_API_TOKEN_MAX_DAYS
        days = self.fields["expires_days"]
        days.validators.append(MaxValueValidator(longest))
        days.widget.attrs["max"] = longest
        days.help_text = f"1 to {longest} days."
        days.initial = min(accounts.DEFAULT_TOKEN_DAYS, longest)


@require_http_methods(["GET", "HEAD", "POST"])
@vary_on_headers("HX-Request")
def tokens(request):
    """The list and the form. A token made: the page again with its secret
    on top and a blank form (a new key); refused: the form with the reason
    (400, or 409 for a form posted again)."""
    form = TokenForm(request.POST or None)
    status, created = 200, None
    if request.method == "POST":
        made, status = submit(form, lambda form: _create(request, form.cleaned_data))
        if made is not None:
            created = {"token": made[0], "secret": made[1]}
            form, status = TokenForm(), 200
        elif status == Conflict.status:
            # This form's token exists (a double click, a reload): say so
            # above a fresh form, whose new key makes another if asked.
            messages.warning(request, capfirst(form.non_field_errors()[0]) + ".")
            form = TokenForm()
    context = {
        "tokens": accounts.own_tokens(request.user),
        "form": form,
        "created": created,
    }
    template = PANEL if wants_partial(request) else PAGE
    response = render(request, template, context, status=status)
    # The secret is in this answer: no cache may keep it.
    response["Cache-Control"] = "no-store"
    return response


def _create(request, data):
    return accounts.create_api_token(
        request.user,
        data["name"],
        actor=request.user,
        scope=data["scope"],
        expires_days=data["expires_days"],
        submission_key=data["submission"],
        request=request,
    )


@require_POST
def token_revoke(request, token_id):
    """Revoke one of your tokens (another's: 404); the list again."""
    with errors.as_error_pages():
        api_token = accounts.get_own_token(request.user, token_id)
    was_active = api_token.revoked_at is None
    accounts.revoke_api_token(api_token, actor=request.user, request=request)
    if was_active:
        messages.success(
            request,
            f"Token “{api_token.name}” revoked: programs that use it are "
            "refused from now on.",
        )
    if not wants_partial(request):
        return redirect("account_tokens")
    context = {"tokens": accounts.own_tokens(request.user), "form": TokenForm()}
    return render(request, PANEL, context)
