"""Use cases. Views, the API, commands and tasks call these; these call the
models (and later the engine adapter and tasks). Each mutating function
records an audit event in the same transaction."""

import secrets
import socket
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from hosts import audit, tokens
from hosts.models import ApiToken, AuditEvent, BuildHost, Endpoint, Registry
from hosts.permissions import ADMINS_GROUP, DEVELOPERS_GROUP

# --- API tokens ---------------------------------------------------------------


@transaction.atomic
def create_api_token(user, name: str, *, actor, source: str, request=None):
    """A new token for `user`: returns (row, plaintext). Show the plaintext
    once; it cannot be recovered."""
    plaintext, prefix = tokens.new_token()
    api_token = ApiToken.objects.create(
        user=user, name=name, prefix=prefix, token_hash=tokens.hash_token(plaintext)
    )
    audit.record(
        actor,
        "api_token.created",
        api_token,
        {"user": user.get_username(), "name": name, "prefix": prefix},
        source=source,
        request=request,
    )
    return api_token, plaintext


@transaction.atomic
def revoke_api_token(api_token: ApiToken, *, actor, source: str, request=None):
    if api_token.revoked_at is not None:
        return api_token
    api_token.revoked_at = timezone.now()
    api_token.save(update_fields=["revoked_at"])
    audit.record(actor, "api_token.revoked", api_token, source=source, request=request)
    return api_token


# --- Worker heartbeat (proves the web → broker → worker → DB pipeline) ------


def record_heartbeat(note: str, hostname: str | None = None) -> AuditEvent:
    return audit.record(
        None,
        "worker.heartbeat",
        details={"note": note, "hostname": hostname or socket.gethostname()},
        source=AuditEvent.Source.TASK,
    )


# --- Read models for pages, API and metrics ----------------------------------


def endpoint_health_counts() -> dict[str, int]:
    """Endpoints per health state, every state present (zero when none)."""
    counts = dict.fromkeys(Endpoint.Health.values, 0)
    rows = Endpoint.objects.values("health").annotate(total=Count("id"))
    counts.update({row["health"]: row["total"] for row in rows})
    return counts


def build_host_state_counts() -> dict[str, int]:
    """Build hosts per state, every state present (zero when none)."""
    counts = dict.fromkeys(BuildHost.State.values, 0)
    rows = BuildHost.objects.values("state").annotate(total=Count("id"))
    counts.update({row["state"]: row["total"] for row in rows})
    return counts


def audit_events(*, action: str = "", actor: str = ""):
    """Audit events, newest first, filtered by action prefix and actor name."""
    events = AuditEvent.objects.all()
    if action:
        events = events.filter(action__startswith=action)
    if actor:
        events = events.filter(actor_name__iexact=actor)
    return events


# --- Devstack seeding (manage.py seed_devstack) ------------------------------


@dataclass
class SeedResult:
    created: list[str]
    updated: list[str]
    admin_password: str | None = None


def ensure_groups() -> list[str]:
    created = []
    for name in (DEVELOPERS_GROUP, ADMINS_GROUP):
        _, was_created = Group.objects.get_or_create(name=name)
        if was_created:
            created.append(f"group {name}")
    return created


def ensure_superuser(username: str, password: str | None, *, source: str):
    """Create the superuser once; an existing one is left as it is (its
    password too). Returns (user, password or None when not created)."""
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is not None:
        return user, None
    password = password or secrets.token_urlsafe(12)
    user = User.objects.create_superuser(username=username, password=password)
    user.groups.add(Group.objects.get(name=ADMINS_GROUP))
    audit.record(None, "user.created", user, {"superuser": True}, source=source)
    return user, password


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
