"""The build form on pages other than the build pages (home, a build host's
page). It renders what it is given and runs no query: lists such as the
user's builds come from the view's context (hosts/web/contexts.py)."""

from django import template

from hosts.web.contexts import build_form_context
from hosts.web.forms import BuildForm

register = template.Library()


@register.inclusion_tag("hosts/builds/partials/build_form.html", takes_context=True)
def build_form(context, host=None):
    """Without a host (home): a build on a build host made for it. With one:
    a build on that host, offered once it is ready (until then the form's
    place polls while the host is provisioned)."""
    values = build_form_context(BuildForm(host=host))
    values["request"] = context.get("request")
    values["csrf_token"] = context.get("csrf_token")
    return values
