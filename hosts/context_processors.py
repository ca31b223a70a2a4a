from hosts.core.permissions import is_admin


def navigation(request):
    """What the navigation bar needs on every page."""
    return {"user_is_admin": is_admin(getattr(request, "user", None))}
