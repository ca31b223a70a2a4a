"""Registry use cases: views, the API and tasks call these.

Input is checked before anything is saved, so a rejected create leaves no row
and no audit event. Passwords are stored encrypted (Registry.set_password) and
never returned. A check (hosts/lib/registry_check.py) and the trust matrix (which
endpoint's engine can log in to which registry, hosts/engine/) store their
results; a change of result is audited.
"""

import re
from dataclasses import dataclass

from cryptography import x509 as crypto_x509
from django.db import IntegrityError, transaction

from hosts.core import audit
from hosts.core.deletion import delete_unless_used
from hosts.core.errors import Conflict, Invalid
from hosts.core.queue import enqueue_on_commit
from hosts.core.unset import UNSET
from hosts.lib import x509
from hosts.models import Build, BuildHost, Deployment, Endpoint, Registry, RegistryTrust
from hosts.registries import tasks, trust

NAME_MAX_LENGTH = Registry._meta.get_field("name").max_length
DEFAULT_PROJECT = "default-project"

_HOST_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_ADDRESS = re.compile(
    rf"^(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::(\d{{1,5}}))?$"
)
_PROJECT = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


class RegistryInvalid(Invalid):
    """Input dchweb will not store; the message says why, `field` says where."""

    code = "invalid_registry"


class RegistryExists(Conflict):
    """Another registry already has this name or address."""


# --- Validation -----------------------------------------------------------------


def normalize_address(address: str) -> str:
    """`host[:port]` as in image refs; RegistryInvalid says what is wrong."""
    address = (address or "").strip()
    if not address:
        raise RegistryInvalid(
            "an address is required, e.g. registry.test:5443", "address"
        )
    if "://" in address:
        raise RegistryInvalid(
            f"give the address without a scheme, as in image refs: "
            f"{address.split('://', 1)[1].split('/')[0] or 'registry.test:5443'}",
            "address",
        )
    if "/" in address:
        raise RegistryInvalid(
            "give the address without a path: host[:port], e.g. "
            f"{address.split('/')[0]}; the project is a field of its own",
            "address",
        )
    match = _ADDRESS.match(address)
    if not match:
        raise RegistryInvalid(
            f"{address!r} is not a host[:port] address, e.g. registry.test:5443",
            "address",
        )
    port = match.group(1)
    if port is not None and not 0 < int(port) < 65536:
        raise RegistryInvalid(f"port {port} is not between 1 and 65535", "address")
    return address.lower()


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise RegistryInvalid("a name is required", "name")
    if len(name) > NAME_MAX_LENGTH:
        raise RegistryInvalid(
            f"the name is longer than {NAME_MAX_LENGTH} characters", "name"
        )
    return name


def _clean_project(project: str | None) -> str:
    project = (project or "").strip() or DEFAULT_PROJECT
    if len(project) > 100 or not _PROJECT.match(project):
        raise RegistryInvalid(
            f"{project!r} is not a project name: lower-case letters and digits, "
            "separated by single '.', '_' or '-'",
            "project",
        )
    return project


def _clean_ca(ca_pem: str | None) -> str:
    if not ca_pem or not ca_pem.strip():
        return ""
    try:
        parsed = x509.parse_certificate_bundle(ca_pem)
    except x509.CertificateInvalid as error:
        raise RegistryInvalid(f"CA certificate: {error.message}", "ca_pem") from None
    if parsed.private_key_pem:
        raise RegistryInvalid(
            "CA certificate: remove the private key; a registry's CA needs none",
            "ca_pem",
        )
    return parsed.pem


def _clean_login(username: str | None, password: str | None) -> tuple[str, str]:
    username = (username or "").strip()
    password = password or ""
    if password and not username:
        raise RegistryInvalid("a password was given without a username", "username")
    if len(username) > 150:
        raise RegistryInvalid("the username is longer than 150 characters", "username")
    return username, password


def _check_unique(name, address, exclude_pk=None):
    others = Registry.objects.exclude(pk=exclude_pk)
    if others.filter(name=name).exists():
        raise RegistryExists(f"a registry named {name!r} already exists")
    if others.filter(address=address).exists():
        raise RegistryExists(f"a registry at {address} already exists")


# --- Create, update -------------------------------------------------------------


def create_registry(
    actor,
    *,
    name,
    address,
    project=None,
    ca_pem=None,
    username=None,
    password=None,
    source=None,
    request=None,
) -> Registry:
    """Validate and store a registry; audited as `registry.created`.

    Raises RegistryInvalid (400) or RegistryExists (409)."""
    name = _clean_name(name)
    address = normalize_address(address)
    registry = Registry(
        name=name,
        address=address,
        project=_clean_project(project),
        ca_pem=_clean_ca(ca_pem),
    )
    registry.username, password = _clean_login(username, password)
    registry.set_password(password)
    _check_unique(name, address)
    try:
        with transaction.atomic():
            registry.save()
            audit.record(
                actor,
                "registry.created",
                registry,
                {
                    "address": address,
                    "project": registry.project,
                    "has_ca": bool(registry.ca_pem),
                    "has_password": registry.has_password,
                },
                source=source,
                request=request,
            )
            # Checked at once (dchweb's check and each endpoint's login), so
            # its row and the trust matrix say how it is, not "not checked".
            enqueue_on_commit(tasks.check_unchecked_registries)
    except IntegrityError:
        raise RegistryExists(
            f"a registry named {name!r} or at {address} exists"
        ) from None
    return registry


def update_registry(
    actor,
    registry: Registry,
    *,
    name=UNSET,
    address=UNSET,
    project=UNSET,
    ca_pem=UNSET,
    username=UNSET,
    password=UNSET,
    source=None,
    request=None,
) -> Registry:
    """Change the given fields (a password of None keeps the stored one, ""
    clears it); audited as `registry.updated` with the changed field names."""
    wanted = {}
    if name is not UNSET:
        wanted["name"] = _clean_name(name)
    if address is not UNSET:
        wanted["address"] = normalize_address(address)
    if project is not UNSET:
        wanted["project"] = _clean_project(project)
    if ca_pem is not UNSET:
        wanted["ca_pem"] = _clean_ca(ca_pem)
    if username is not UNSET:
        wanted["username"], _ = _clean_login(username, None)
    new_password = None if password is UNSET else password
    _clean_login(wanted.get("username", registry.username), new_password)
    _check_unique(
        wanted.get("name", registry.name),
        wanted.get("address", registry.address),
        exclude_pk=registry.pk,
    )
    changed = [key for key, value in wanted.items() if getattr(registry, key) != value]
    for key in changed:
        setattr(registry, key, wanted[key])
    if new_password is not None and new_password != registry.get_password():
        registry.set_password(new_password)
        changed.append("password")
    if not changed:
        return registry
    try:
        with transaction.atomic():
            if _REACHED_BY.intersection(changed):
                _forget_checks(registry)
            registry.save()
            # Field names only: a password must never land in the trail.
            audit.record(
                actor,
                "registry.updated",
                registry,
                {"fields": sorted(changed)},
                source=source,
                request=request,
            )
    except IntegrityError:
        raise RegistryExists("another registry has this name or address") from None
    return registry


# What a check and the trust matrix depend on: a change makes their results
# about another registry than this one.
_REACHED_BY = {"address", "ca_pem", "username", "password"}


def _forget_checks(registry) -> None:
    """The results no longer hold: "Checking…" until the queued checks say."""
    registry.last_check_at = None
    registry.last_check_ok = None
    registry.last_check_reason = ""
    registry.last_check_error = ""
    RegistryTrust.objects.filter(registry=registry).delete()
    enqueue_on_commit(tasks.check_unchecked_registries)


# --- Delete ---------------------------------------------------------------------


class RegistryInUse(Conflict):
    """Build hosts, builds or deployments still use the registry."""

    def __init__(self, registry, reasons: list[str]):
        super().__init__(
            f"registry “{registry.name}” is still in use: {', '.join(reasons)}",
            code="registry_in_use",
        )
        self.reasons = reasons


def delete_registry(actor, registry: Registry, *, source=None, request=None) -> None:
    """Delete a registry nothing uses (audited `registry.deleted`); its trust
    matrix row goes with it. RegistryInUse, and nothing deleted, while a
    build host that is not gone trusts it or a build or deployment names it."""
    delete_unless_used(
        actor,
        registry,
        action="registry.deleted",
        details={"name": registry.name, "address": registry.address},
        uses_of=uses_of,
        refused=RegistryInUse,
        source=source,
        request=request,
    )


def uses_of(registry) -> list[str]:
    """What still uses the registry, in words."""
    reasons = []
    hosts = BuildHost.objects.filter(registries=registry).exclude(
        state__in=BuildHost.ENDED_STATES
    )
    if hosts.exists():
        trusting = _plural(hosts.count(), "build host trusts", "build hosts trust")
        reasons.append(f"{trusting} it")
    builds = Build.objects.filter(registry=registry).count()
    if builds:
        pushes = _plural(builds, "build pushed", "builds pushed")
        reasons.append(f"{pushes} to it")
    deployments = Deployment.objects.filter(registry=registry).count()
    if deployments:
        pulls = _plural(deployments, "deployment ran", "deployments ran")
        reasons.append(f"{pulls} an image from it")
    return reasons


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


# --- Check ------------------------------------------------------------------------

# Done by the worker too (at start, after a create), so it lives on its side.
check_registry = trust.check_registry


# --- CA expiry --------------------------------------------------------------------


@dataclass(frozen=True)
class CaExpiry:
    not_after: object
    days: int
    warning: str | None


def ca_expiry(registry) -> CaExpiry | None:
    """When the registry's CA (its first certificate) expires, and the warning."""
    if not registry.ca_pem:
        return None
    try:
        cert = crypto_x509.load_pem_x509_certificate(registry.ca_pem.encode())
    except ValueError:
        return None
    not_after = cert.not_valid_after_utc
    return CaExpiry(
        not_after=not_after,
        days=x509.expires_in_days(not_after),
        warning=x509.expiry_warning(not_after),
    )


# --- Trust matrix (endpoint x registry) -------------------------------------------


@dataclass(frozen=True)
class TrustMatrix:
    registries: list
    rows: list  # [(endpoint, [RegistryTrust | None per registry])]
    checked_at: object  # the oldest cell's time, None when any cell is missing


def trust_matrix() -> TrustMatrix:
    registries = registry_rows()
    endpoints = list(Endpoint.objects.all())
    cells = {
        (trust.endpoint_id, trust.registry_id): trust
        for trust in RegistryTrust.objects.all()
    }
    rows = [
        (endpoint, [cells.get((endpoint.pk, registry.pk)) for registry in registries])
        for endpoint in endpoints
    ]
    found = [cell for _, row in rows for cell in row]
    checked = None
    if found and all(cell is not None for cell in found):
        checked = min(cell.checked_at for cell in found)
    return TrustMatrix(registries=registries, rows=rows, checked_at=checked)


def registry_rows():
    """Every registry, each with `ca` (its CaExpiry or None) for the pages."""
    rows = list(Registry.objects.all())
    for registry in rows:
        registry.ca = ca_expiry(registry)
    return rows
