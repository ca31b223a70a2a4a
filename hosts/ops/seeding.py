"""Seeding the devstack (manage.py seed_devstack): the groups, the `admin`
superuser, the endpoint `local` and the devstack registry, made or brought up
to date, idempotently."""

from dataclasses import dataclass

from django.db import transaction

from hosts.accounts.commands import ensure_groups, ensure_superuser
from hosts.core import audit
from hosts.models import AuditEvent, Endpoint, Registry


@dataclass
class SeedResult:
    created: list[str]
    updated: list[str]
    admin_password: str | None = None


def ensure_endpoint(name: str, wanted: dict, *, source: str) -> str:
    """Create the endpoint or bring it up to date: "created", "updated" or ""."""
    endpoint = Endpoint.objects.filter(name=name).first()
    if endpoint is None:
        endpoint = Endpoint.objects.create(name=name, **wanted)
        audit.record(None, "endpoint.created", endpoint, source=source)
        return "created"
    return _save_changes(endpoint, _apply(endpoint, wanted), source=source)


def ensure_registry(address: str, wanted: dict, password: str, *, source: str) -> str:
    """Create the registry or bring it up to date: "created", "updated" or ""."""
    registry = Registry.objects.filter(address=address).first()
    if registry is None:
        registry = Registry(address=address, **wanted)
        registry.set_password(password)
        registry.save()
        audit.record(None, "registry.created", registry, source=source)
        return "created"
    changed = _apply(registry, wanted)
    if registry.get_password() != password:
        registry.set_password(password)
        changed.append("password")
    return _save_changes(registry, changed, source=source)


def _apply(row, wanted: dict) -> list[str]:
    changed = [field for field, value in wanted.items() if getattr(row, field) != value]
    for field in changed:
        setattr(row, field, wanted[field])
    return changed


def _save_changes(row, changed: list[str], *, source: str) -> str:
    if not changed:
        return ""
    row.save()
    # Field names only: a changed password must not land in the trail.
    action = f"{row._meta.model_name}.updated"
    audit.record(None, action, row, {"fields": sorted(changed)}, source=source)
    return "updated"


@transaction.atomic
def seed_devstack(devstack: dict, *, admin_password: str | None) -> SeedResult:
    """Idempotently make the dashboard usable on the devstack: groups, the
    `admin` superuser, the endpoint `local` and the devstack registry."""
    source = AuditEvent.Source.CLI
    result = SeedResult(created=ensure_groups(), updated=[])
    _, password = ensure_superuser("admin", admin_password, source=source)
    if password is not None:
        result.created.append("user admin")
        result.admin_password = password
    outcomes = {
        "endpoint local": ensure_endpoint(
            "local",
            {
                "docker_url": devstack["docker_url"],
                "tls_mode": Endpoint.TlsMode.NONE,
                "publish_host": "127.0.0.1",
                "network": devstack["network"],
                "default_image": devstack["image"],
            },
            source=source,
        ),
        f"registry {devstack['registry']}": ensure_registry(
            devstack["registry"],
            {
                "name": devstack["registry"],
                "project": "default-project",
                "ca_pem": devstack["registry_ca"],
                "username": devstack["registry_user"],
            },
            devstack["registry_password"],
            source=source,
        ),
    }
    for label, outcome in outcomes.items():
        if outcome == "created":
            result.created.append(label)
        elif outcome == "updated":
            result.updated.append(label)
    return result
