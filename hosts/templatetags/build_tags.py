"""Build forms and lists on pages other than a build's own (home, a build
host's page): their context is built here, not in hosts/web/views.py."""

from django import template

from hosts.web import builds as build_views

register = template.Library()


@register.inclusion_tag("hosts/partials/build_form.html", takes_context=True)
def build_form(context, host=None):
    """Without a host (home): a build on a build host made for it. With one:
    a build on that host, offered once it is ready (until then the form's
    place polls while the host is provisioned)."""
    form = build_views.BuildForm(host=host)
    values = build_views.build_form_context(form)
    values["request"] = context.get("request")
    values["csrf_token"] = context.get("csrf_token")
    return values


@register.inclusion_tag("hosts/partials/my_builds.html", takes_context=True)
def my_builds(context):
    """The signed-in user's newest builds; live while one is not final."""
    return build_views.my_builds_context(context["request"].user)
