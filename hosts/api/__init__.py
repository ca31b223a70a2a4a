"""The JSON API under /api/v1/ (django-ninja): bearer tokens, one error shape
(hosts/api/errors.py), a router and schemas per domain."""

from ninja import NinjaAPI

from hosts.api import (
    accounts,
    audit,
    build_hosts,
    builds,
    certificates,
    deployments,
    endpoints,
    errors,
    images,
    notifications,
    pushed_images,
    registries,
    volumes,
    webhooks,
)
from hosts.api.auth import BearerToken
from hosts.api.parser import JsonParser

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
for domain in (
    accounts,
    endpoints,
    registries,
    certificates,
    audit,
    build_hosts,
    builds,
    deployments,
    images,
    pushed_images,
    volumes,
    webhooks,
    notifications,
):
    api.add_router("/", domain.router)
