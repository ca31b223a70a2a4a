"""Endpoint use cases: views, the API and commands call these.

Everything is checked before anything is saved, so a rejected endpoint leaves
no row and no audit event. A saved (or re-enabled) endpoint is probed as soon
as its transaction commits, so the worker never looks for an uncommitted row.
"""

import logging
from urllib.parse import urlsplit

from django.db import IntegrityError, transaction

from hosts.core import audit
from hosts.core.deletion import delete_unless_used
from hosts.core.errors import Conflict, Invalid, NotFound
from hosts.core.queue import REFILL_POOL_TASK, enqueue_on_commit, send_on_commit
from hosts.endpoints import tasks
from hosts.models import Build, BuildHost, Certificate, Deployment, Endpoint

logger = logging.getLogger(__name__)

__all__ = [
    "CertificateNotFound",
    "EndpointInUse",
    "EndpointInvalid",
    "EndpointNameTaken",
    "create_endpoint",
    "delete_endpoint",
    "patch_endpoint",
    "request_probe",
    "set_endpoint_disabled",
    "update_endpoint",
    "uses_of",
]

NAME_MAX_LENGTH = Endpoint._meta.get_field("name").max_length
MAX_BUILD_HOSTS_LIMIT = 1000
# The settings an admin gives; health and probe facts are the probe's.
SETTINGS = (
    "name",
    "docker_url",
    "tls_mode",
    "ca_certificate",
    "client_certificate",
    "publish_host",
    "network",
    "default_image",
    "volume_store",
    "max_build_hosts",
    "idle_minutes",
    "pool_size",
)


class EndpointInvalid(Invalid):
    """Bad input; `field` names the setting at fault (None: the whole)."""

    code = "invalid_endpoint"


class EndpointNameTaken(Conflict):
    def __init__(self, name: str):
        super().__init__(f"an endpoint named {name!r} already exists")
        self.name = name


class EndpointInUse(Conflict):
    """Rows still refer to the endpoint (its build hosts, past ones too,
    builds, deployments): deleting it would take their history with it."""

    def __init__(self, endpoint, reasons: list[str]):
        super().__init__(
            f"endpoint “{endpoint.name}” is still in use: it has "
            f"{', '.join(reasons)}. Disable it instead to stop new build hosts "
            "on it",
            code="endpoint_in_use",
        )
        self.reasons = reasons


class CertificateNotFound(NotFound):
    def __init__(self, field: str, certificate_id):
        super().__init__(f"no certificate with id {certificate_id} ({field})")
        self.field = field


def create_endpoint(actor, data: dict, *, source=None, request=None) -> Endpoint:
    """Check and store an endpoint, audited as `endpoint.create`; probed on
    commit. `data` holds the SETTINGS, the certificates as
    `ca_certificate_id` / `client_certificate_id` (or None).

    Raises EndpointInvalid, CertificateNotFound or EndpointNameTaken.
    """
    values = _clean(data)
    if Endpoint.objects.filter(name=values["name"]).exists():
        raise EndpointNameTaken(values["name"])
    endpoint = Endpoint(**values)
    return _save_and_probe(
        actor, endpoint, "endpoint.create", _describe(endpoint), source, request
    )


def update_endpoint(
    actor, endpoint: Endpoint, data: dict, *, source=None, request=None
) -> Endpoint:
    """Change an endpoint's settings (`endpoint.update`) and probe it again;
    its warm pool is refilled (or recycled: a new image, a smaller pool).
    A pool_size the data leaves out stays as it is."""
    values = _clean(data, pool_size=endpoint.pool_size)
    if Endpoint.objects.filter(name=values["name"]).exclude(pk=endpoint.pk).exists():
        raise EndpointNameTaken(values["name"])
    changed = {}
    for name, value in values.items():
        if getattr(endpoint, name) != value:
            changed[name] = str(value) if value is not None else None
            setattr(endpoint, name, value)
    saved = _save_and_probe(
        actor, endpoint, "endpoint.update", {"changed": changed}, source, request
    )
    if endpoint.pool_size or "pool_size" in changed:
        _refill_on_commit(endpoint.pk)
    return saved


def patch_endpoint(
    actor, endpoint: Endpoint, changes: dict, *, source=None, request=None
) -> Endpoint:
    """Change only the settings `changes` names (the API's PATCH); the
    others stay as they are. The same checks as a full change."""
    data = {name: getattr(endpoint, name) for name in SETTINGS}
    for field in ("ca_certificate", "client_certificate"):
        if f"{field}_id" in changes:
            data[field] = None  # the id named wins over the current one
    data.update(changes)
    return update_endpoint(actor, endpoint, data, source=source, request=request)


def _save_and_probe(actor, endpoint, action, details, source, request) -> Endpoint:
    """Save and audit in one transaction, then probe once it commits. The name
    was checked before; a save that races another takes the same refusal."""
    try:
        with transaction.atomic():
            endpoint.save()
            audit.record(
                actor, action, endpoint, details, source=source, request=request
            )
            _probe_on_commit(endpoint.pk)
    except IntegrityError:
        raise EndpointNameTaken(endpoint.name) from None
    return endpoint


def delete_endpoint(actor, endpoint: Endpoint, *, source=None, request=None) -> None:
    """Delete an endpoint no row refers to (audited `endpoint.delete`); its
    volume ledger and trust matrix rows go with it. EndpointInUse, and
    nothing deleted, while build hosts, builds or deployments refer to it."""
    delete_unless_used(
        actor,
        endpoint,
        action="endpoint.delete",
        details={"name": endpoint.name, "docker_url": endpoint.docker_url},
        uses_of=uses_of,
        refused=EndpointInUse,
        source=source,
        request=request,
    )


def uses_of(endpoint) -> list[str]:
    """What still refers to the endpoint, in words ("2 build hosts (1 active)")."""
    reasons = []
    hosts = BuildHost.objects.filter(endpoint=endpoint)
    total = hosts.count()
    if total:
        active = hosts.filter(state__in=BuildHost.HELD_STATES).count()
        words = _plural(total, "build host")
        reasons.append(f"{words} ({active} active)" if active else f"{words}, removed")
    builds = Build.objects.filter(endpoint=endpoint).count()
    if builds:
        reasons.append(_plural(builds, "build"))
    deployments = Deployment.objects.filter(endpoint=endpoint).count()
    if deployments:
        reasons.append(_plural(deployments, "deployment"))
    return reasons


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


@transaction.atomic
def set_endpoint_disabled(
    actor, endpoint: Endpoint, disabled: bool, *, source=None, request=None
) -> Endpoint:
    """Disable (health `disabled`, probes skip it, it stays so) or enable
    (health `off` until the probe, enqueued now, says otherwise)."""
    endpoint = Endpoint.objects.select_for_update().get(pk=endpoint.pk)
    is_disabled = endpoint.is_disabled
    if disabled == is_disabled:
        return endpoint
    was = endpoint.health
    if disabled:
        endpoint.health = Endpoint.Health.DISABLED
    else:
        endpoint.health = Endpoint.Health.OFF
        endpoint.consecutive_failures = 0
    endpoint.save(update_fields=["health", "consecutive_failures", "updated_at"])
    audit.record(
        actor,
        "endpoint.disable" if disabled else "endpoint.enable",
        endpoint,
        {"from": was, "to": endpoint.health},
        source=source,
        request=request,
    )
    if not disabled:
        _probe_on_commit(endpoint.pk)
    elif endpoint.pool_size:
        _refill_on_commit(endpoint.pk)  # its free pool hosts go
    return endpoint


@transaction.atomic
def request_probe(actor, endpoint: Endpoint, *, source=None, request=None) -> bool:
    """Probe now (in the worker); False, and nothing enqueued, when disabled."""
    if endpoint.is_disabled:
        return False
    audit.record(
        actor, "endpoint.probe_requested", endpoint, source=source, request=request
    )
    _probe_on_commit(endpoint.pk)
    return True


# --- Checks -------------------------------------------------------------------


def _clean(data: dict, pool_size: int = 0) -> dict:
    """The settings, checked; `pool_size` stands when the data has none."""
    name = _text(data, "name")
    if not name:
        raise EndpointInvalid("a name is required", "name")
    if len(name) > NAME_MAX_LENGTH:
        raise EndpointInvalid(
            f"the name is longer than {NAME_MAX_LENGTH} characters", "name"
        )
    docker_url = _check_docker_url(_text(data, "docker_url"))
    tls_mode = _text(data, "tls_mode") or Endpoint.TlsMode.TLSVERIFY
    if tls_mode not in Endpoint.TlsMode.values:
        raise EndpointInvalid(
            f"TLS mode must be one of {', '.join(Endpoint.TlsMode.values)}",
            "tls_mode",
        )
    ca = _certificate(data, "ca_certificate")
    client = _certificate(data, "client_certificate")
    _check_tls(docker_url, tls_mode, ca, client)
    publish_host = _text(data, "publish_host") or _default_publish_host(docker_url)
    max_build_hosts = data.get("max_build_hosts")
    if max_build_hosts in (None, ""):
        max_build_hosts = Endpoint._meta.get_field("max_build_hosts").default
    try:
        max_build_hosts = int(max_build_hosts)
    except (TypeError, ValueError):
        raise EndpointInvalid(
            "the cap on build hosts must be a whole number", "max_build_hosts"
        ) from None
    if not 1 <= max_build_hosts <= MAX_BUILD_HOSTS_LIMIT:
        raise EndpointInvalid(
            f"the cap on build hosts must be between 1 and {MAX_BUILD_HOSTS_LIMIT}",
            "max_build_hosts",
        )
    values = {
        "name": name,
        "docker_url": docker_url,
        "tls_mode": tls_mode,
        "ca_certificate": ca,
        "client_certificate": client,
        "publish_host": publish_host,
        "network": _text(data, "network"),
        "default_image": _text(data, "default_image"),
        "volume_store": _text(data, "volume_store") or "default",
        "max_build_hosts": max_build_hosts,
        "idle_minutes": _idle_minutes(data.get("idle_minutes")),
        "pool_size": _pool_size(data.get("pool_size"), pool_size, max_build_hosts),
    }
    for field, value in values.items():
        limit = getattr(Endpoint._meta.get_field(field), "max_length", None)
        if limit and isinstance(value, str) and len(value) > limit:
            raise EndpointInvalid(
                f"{field.replace('_', ' ')} is longer than {limit} characters", field
            )
    return values


def _idle_minutes(value) -> int | None:
    """Its build hosts' idle stop: None (the installation's), 0 (never) or
    minutes."""
    if value in (None, ""):
        return None
    highest = BuildHost.MAX_IDLE_MINUTES
    wrong = EndpointInvalid(
        f"the idle time is a whole number of minutes from 0 (never) to {highest}",
        "idle_minutes",
    )
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        raise wrong from None
    fraction = isinstance(value, float) and value != minutes
    if fraction or not 0 <= minutes <= highest:
        raise wrong
    return minutes


def _pool_size(value, current: int, cap: int) -> int:
    """Free build hosts kept ready: 0 (no pool) up to the endpoint's cap
    (pool hosts take places under it)."""
    if value in (None, ""):
        return current
    wrong = EndpointInvalid(
        f"the warm pool size is a whole number of build hosts from 0 (no pool) "
        f"to {cap}, the endpoint's cap",
        "pool_size",
    )
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise wrong from None
    if isinstance(value, bool) or (isinstance(value, float) and value != size):
        raise wrong
    if size < 0:
        raise wrong
    if size > cap:
        raise EndpointInvalid(
            f"a warm pool of {size} build hosts is more than the endpoint's cap "
            f"of {cap}: raise the cap first, or ask for at most {cap}",
            "pool_size",
        )
    return size


def _text(data, key) -> str:
    return str(data.get(key) or "").strip()


def _check_docker_url(url: str) -> str:
    example = "use unix:///path/to/docker.sock or tcp://host:port"
    if not url:
        raise EndpointInvalid(f"a Docker URL is required: {example}", "docker_url")
    if url.startswith("unix://"):
        path = url.removeprefix("unix://")
        if not path.startswith("/") or len(path) < 2:
            raise EndpointInvalid(
                f"a unix:// Docker URL needs an absolute socket path: {example}",
                "docker_url",
            )
        return url
    if url.startswith("tcp://"):
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if (
            not parts.hostname
            or port is None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or parts.username
        ):
            raise EndpointInvalid(
                f"a tcp:// Docker URL needs a host and a port (1-65535): {example}",
                "docker_url",
            )
        return url.rstrip("/")
    raise EndpointInvalid(
        f"the Docker URL must start with unix:// or tcp://: {example}", "docker_url"
    )


def _default_publish_host(docker_url: str) -> str:
    """Where users reach published ports when the admin did not say: the
    engine's own host, for a tcp:// URL (ports are published on the machine
    the engine runs on). A unix socket names no address, and 127.0.0.1 is no
    safe guess: a loopback publish host binds the build hosts' ports to
    loopback only (hosts.buildhosts.provisioning.publish_address), so they
    would work from this machine and silently from no other."""
    if docker_url.startswith("tcp://"):
        return urlsplit(docker_url).hostname
    raise EndpointInvalid(
        "a publish host is required for a unix socket endpoint: the address users "
        "reach published ports on",
        "publish_host",
    )


def _certificate(data, field):
    certificate = data.get(field)
    if isinstance(certificate, Certificate) or certificate is None:
        certificate_id = data.get(f"{field}_id")
        if certificate is None and certificate_id not in (None, ""):
            try:
                certificate = Certificate.objects.get(pk=int(certificate_id))
            except (Certificate.DoesNotExist, TypeError, ValueError):
                raise CertificateNotFound(field, certificate_id) from None
        return certificate
    raise EndpointInvalid(f"{field.replace('_', ' ')} is not a certificate", field)


def _check_tls(docker_url, tls_mode, ca, client):
    if tls_mode == Endpoint.TlsMode.NONE:
        if ca is not None or client is not None:
            raise EndpointInvalid(
                "certificates are used only with TLS: set the TLS mode to tls or "
                "tlsverify, or leave the certificates out",
                "tls_mode",
            )
        return
    if docker_url.startswith("unix://"):
        raise EndpointInvalid(
            "TLS applies to tcp:// Docker URLs only: a unix socket has TLS mode none",
            "tls_mode",
        )
    if tls_mode == Endpoint.TlsMode.TLSVERIFY and ca is None:
        raise EndpointInvalid(
            "TLS mode tlsverify needs the CA certificate that signed the engine's "
            "certificate",
            "ca_certificate",
        )
    if client is not None and not client.has_private_key:
        raise EndpointInvalid(
            f"client certificate {client.name!r} has no private key: upload it with "
            "its key",
            "client_certificate",
        )


def _describe(endpoint) -> dict:
    return {
        "docker_url": endpoint.docker_url,
        "tls_mode": endpoint.tls_mode,
        "ca_certificate": endpoint.ca_certificate_id,
        "client_certificate": endpoint.client_certificate_id,
        "publish_host": endpoint.publish_host,
    }


def _refill_on_commit(endpoint_id: int) -> None:
    send_on_commit(REFILL_POOL_TASK, endpoint_id)


def _probe_on_commit(endpoint_id: int) -> None:
    # A broker that is down must not undo the change: the periodic probe
    # catches up.
    enqueue_on_commit(tasks.probe_endpoint, endpoint_id)
