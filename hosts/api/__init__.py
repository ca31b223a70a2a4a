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
    """JSON bodies; text that is valid JSON but not valid Unicode (a lone
    surrogate, `"\\udc80"`) is refused as unparsable (400), as no database,
    certificate or engine can take it."""

    def parse_body(self, request):
        data = super().parse_body(request)
        json.dumps(data, ensure_ascii=False).encode()  # UnicodeEncodeError
        return data


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
