"""Build forms and lists on pages other than a build's own."""

from django import template

from hosts import build_views

register = template.Library()


@register.inclusion_tag("hosts/partials/build_form.html")
def build_form(host=None):
    """On a ready build host's page it builds there; without a host (home)
    on a build host made for the build."""
    return {"form": build_views.build_form_for(host)}


@register.inclusion_tag("hosts/partials/my_builds.html", takes_context=True)
def my_builds(context):
    return {"builds": build_views.my_builds(context["request"].user)}


@register.filter
def can_build_on(host):
    return build_views.ready_host(host)
