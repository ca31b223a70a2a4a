"""Who may do what. Two roles: developers (own objects) and admins (all)."""

from django.core.exceptions import ValidationError

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


def visible_to(user, objects):
    """Of `objects` (rows with an `owner`), those `user` may see: their own;
    admins all."""
    return objects if is_admin(user) else objects.filter(owner=user)


def get_visible(user, objects, pk, not_found):
    """One of them, else `not_found` raised: another developer's object is
    "not found" rather than "forbidden", so ids cannot be probed, and a
    malformed id (not a UUID) is as unknown as a missing one."""
    try:
        return visible_to(user, objects).get(pk=pk)
    except (objects.model.DoesNotExist, ValidationError, ValueError, TypeError):
        raise not_found from None
