"""Who may do what. Two roles: developers (own objects) and admins (all)."""

from hosts.core.errors import Forbidden

ADMINS_GROUP = "admins"
DEVELOPERS_GROUP = "developers"


def is_admin(user) -> bool:
    if not user or not user.is_authenticated:
        return False
    return user.is_superuser or user.groups.filter(name=ADMINS_GROUP).exists()


def require_admin(user, message: str = "This is for admins.") -> None:
    """The one admin check of pages and API alike: Forbidden unless admin."""
    if not is_admin(user):
        raise Forbidden(message)
