"""Template tags for the volume ledger on pages other than /volumes/."""

from django import template

from hosts.volumes import ledger

register = template.Library()


@register.inclusion_tag("hosts/partials/left_behind.html", takes_context=True)
def left_behind(context):
    """Home: the volumes the signed-in user's removed build hosts left behind
    (not in use, still on an engine), and their bytes as last measured."""
    user = context["request"].user
    return {
        "left": ledger.left_behind_by(user),
        "user_is_admin": context.get("user_is_admin", False),
        "username": user.get_username(),
    }
