"""The JSON API under /api/v1/ (django-ninja): bearer tokens, one error shape."""

import json

from ninja import NinjaAPI
from ninja.parser import Parser

from hosts.api import errors
from hosts.api.auth import BearerToken
from hosts.api.build_hosts import router as build_hosts_router
from hosts.api.builds import router as builds_router
from hosts.api.deployments import router as deployments_router
from hosts.api.routes import router
from hosts.api.volumes import router as volumes_router


class JsonParser(Parser):
    """JSON bodies and form fields (query strings: hosts.middleware). Text
    no database, certificate or engine can take is refused as a 400 before
    any code sees it: a lone surrogate (`"\\udc80"`, valid JSON but not
    valid Unicode) and a NUL character (PostgreSQL text cannot hold one)."""

    def parse_body(self, request):
        data = super().parse_body(request)
        json.dumps(data, ensure_ascii=False).encode()  # UnicodeEncodeError
        refuse_nul(data)
        return data

    def parse_querydict(self, data, list_fields, request):
        parsed = super().parse_querydict(data, list_fields, request)
        # Query strings were checked before any view (hosts.middleware); form
        # fields of a body were not.
        if data is not request.GET:
            refuse_nul(parsed)
        return parsed


def refuse_nul(value, where="the request"):
    """Raise a 400 when a NUL character is in any text of `value` (keys too)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise errors.ApiError(400, f"{where} holds a NUL character (\\u0000)")
    elif isinstance(value, dict):
        for key, item in value.items():
            refuse_nul(key, where)
            refuse_nul(item, key if isinstance(key, str) else where)
    elif isinstance(value, list):
        for item in value:
            refuse_nul(item, where)


api = NinjaAPI(
    title="dchweb API",
    version="1",
    description="Build hosts on Docker endpoints. Errors: "
    '`{"error": code, "detail": text}`.',
    auth=BearerToken(),
    urls_namespace="api-v1",
    docs_url="/docs",
    parser=JsonParser(),
)
errors.install(api)
api.add_router("/", router)
api.add_router("/", build_hosts_router)
api.add_router("/", builds_router)
api.add_router("/", deployments_router)
api.add_router("/", volumes_router)
