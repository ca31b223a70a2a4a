from ninja.security import HttpBearer

from hosts.core import tokens


class BearerToken(HttpBearer):
    """`Authorization: Bearer <token>`; the user becomes `request.auth`."""

    openapi_description = "An API token from `manage.py createapitoken USERNAME`."

    def authenticate(self, request, token):
        user = tokens.user_for_token(token)
        if user is not None:
            request.user = user
        return user
