"""Who may do what. Two roles: developers (own objects) and admins (all)."""

ADMINS_GROUP = "admins"
DEVELOPERS_GROUP = "developers"


def is_admin(user) -> bool:
    if not user or not user.is_authenticated:
        return False
    return user.is_superuser or user.groups.filter(name=ADMINS_GROUP).exists()
