"""Who may open a page: the one admin check of the views."""

import functools

from hosts.core.permissions import require_admin
from hosts.web.errors import as_error_pages


def admin_required(message: str, *, methods: tuple[str, ...] | None = None):
    """The view answers admins only; anyone else gets the 403 page with
    `message`. With `methods`, only those methods are admins' (a page all
    may read whose form only admins may post). It checks before the view
    reads any input: authorization before validation."""

    def decorator(view):
        @functools.wraps(view)
        def admins_only(request, *args, **kwargs):
            if methods is None or request.method in methods:
                with as_error_pages():
                    require_admin(request.user, message)
            return view(request, *args, **kwargs)

        return admins_only

    return decorator
