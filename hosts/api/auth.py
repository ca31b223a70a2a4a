"""Who may call an operation, answered before ninja reads the request.

ninja runs an operation's `auth` before it parses the path, the query and the
body, so every refusal that does not depend on the input is made here: a bad,
expired or read-only token (401, 401, 403), a developer on an admin's
operation (403) and someone else's object (404). A caller who may not do
something learns that, whatever the body they sent, and never learns from a
400 what a body for it should look like. The rules themselves live below
(hosts/core/tokens.py, hosts/core/permissions.py, the domains' lookups); here
they are only run early.

Every variant is this one class, so the OpenAPI schema names one security
scheme, `BearerToken`, for all operations."""

from collections.abc import Callable

from ninja.security import HttpBearer

from hosts.core import tokens
from hosts.core.permissions import require_admin

# A check run once the token is known: (request, user) -> None, or raises.
Check = Callable[..., None]


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>`; the user becomes `request.auth`.
    `checks` run after the token is accepted, in order, before the input is
    parsed (see admin_only and visible)."""

    openapi_description = (
        "An API token (POST /api/v1/tokens, or `manage.py createapitoken "
        "USERNAME`). A `read` token may only GET."
    )

    def __init__(self, *checks: Check):
        super().__init__()
        self.checks = checks

    def authenticate(self, request, token):
        user = tokens.authenticate(token, request.method)
        if user is None:
            return None
        request.user = user
        for check in self.checks:
            check(request, user)
        return user


def admin_only(message: str) -> Check:
    """For an admin's operation: Forbidden (403) for anyone else."""

    def check(request, user):
        require_admin(user, message)

    return check


def visible(parameter: str, get_visible: Callable) -> Check:
    """For an operation on an object the path names (`parameter`): NotFound
    (404) unless `get_visible(user, value)` finds it for this user. The view
    looks it up again to use it (a primary-key read); this lookup only makes
    sure nobody hears about the body of a request on an object they may not
    see."""

    def check(request, user):
        get_visible(user, request.resolver_match.kwargs[parameter])

    return check
