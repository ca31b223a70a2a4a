from datetime import datetime
from typing import Literal

from ninja import Field, Schema

# Ages in days beyond this (a century) overflow a date.
MAX_DAYS = 36500


class MeOut(Schema):
    username: str
    is_admin: bool
    groups: list[str]


class EndpointOut(Schema):
    id: int
    name: str
    docker_url: str
    tls_mode: str
    publish_host: str
    network: str
    default_image: str
    volume_store: str
    max_build_hosts: int
    health: str
    last_error: str
    last_probe_at: datetime | None
    flavor: str
    api_version: str
    last_error_reason: str = Field(
        description="why the last probe failed, one word: connection_refused, "
        "timeout, unknown_authority, client_certificate_missing, "
        "client_certificate_rejected, hostname_mismatch, api_version_unsupported..."
    )
    server_version: str
    os_arch: str
    volume_stores: list[str]
    consecutive_failures: int
    ca_certificate_id: int | None
    client_certificate_id: int | None


class EndpointIn(Schema):
    """Certificates by id (upload them first: POST /certificates)."""

    name: str = Field(..., min_length=1, max_length=100)
    docker_url: str = Field(..., description="tcp://host:port or unix:///path")
    tls_mode: Literal["none", "tls", "tlsverify"] = "tlsverify"
    ca_certificate_id: int | None = Field(
        None, description="required with tlsverify: the CA of the engine's cert"
    )
    client_certificate_id: int | None = Field(
        None, description="a certificate uploaded with its private key"
    )
    publish_host: str = Field(..., min_length=1, max_length=255)
    network: str = ""
    default_image: str = ""
    volume_store: str = "default"
    max_build_hosts: int = Field(10, ge=1, le=1000)


class RegistryOut(Schema):
    """No password, ever: only whether one is set."""

    id: int
    name: str
    address: str
    project: str
    username: str
    has_password: bool
    has_ca: bool
    ca_expires_at: datetime | None = Field(None, description="the CA's not-after")
    ca_expiry_warning: str | None = Field(
        None, description='null, or "30d", "7d", "1d" ahead of expiry, or "expired"'
    )
    last_check_at: datetime | None
    last_check_ok: bool | None
    last_check_reason: str
    last_check_error: str

    @staticmethod
    def resolve_has_ca(registry) -> bool:
        return bool(registry.ca_pem)

    @staticmethod
    def resolve_ca_expires_at(registry):
        from hosts.registries.commands import ca_expiry

        expiry = ca_expiry(registry)
        return expiry.not_after if expiry else None

    @staticmethod
    def resolve_ca_expiry_warning(registry):
        from hosts.registries.commands import ca_expiry

        expiry = ca_expiry(registry)
        return expiry.warning if expiry else None


class RegistryIn(Schema):
    name: str = Field(..., max_length=100)
    address: str = Field(..., description="host[:port] as in image refs")
    project: str | None = None
    ca_pem: str | None = Field(None, description="the CA that signed its certificate")
    username: str | None = None
    password: str | None = Field(
        None, description="stored encrypted, never shown again"
    )


class RegistryCheckOut(Schema):
    ok: bool
    reason: str = Field(description='"ok", or why not: login_refused, timeout, ...')
    message: str
    checked_at: datetime
    registry: RegistryOut


class AuditEventOut(Schema):
    id: int
    created_at: datetime
    actor: str = Field(alias="actor_name")
    action: str
    object_type: str
    object_id: str
    object_repr: str
    details: dict
    source: str
    remote_addr: str | None


class AuditEventPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[AuditEventOut]


class ErrorOut(Schema):
    error: str
    detail: str


class CertificateIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    pem: str = Field(..., description="certificate first, then its chain (PEM)")
    private_key_pem: str | None = Field(
        None, description="unencrypted PEM; stored encrypted, never shown again"
    )


class CertificateOut(Schema):
    """No private key, ever: only whether one is stored."""

    id: int
    name: str
    subject: str
    issuer: str
    sans: list[str]
    not_before: datetime
    not_after: datetime
    fingerprint: str = Field(description="SHA-256, AB:CD:... as openssl prints it")
    kind: str = Field(description="ca, client or server")
    is_ca: bool
    chain_length: int
    has_private_key: bool
    expires_in_days: int
    expiry_warning: str | None = Field(
        description='null, or "30d", "7d", "1d" ahead of expiry, or "expired"'
    )
    created_by: str | None
    created_at: datetime

    @staticmethod
    def resolve_created_by(certificate) -> str | None:
        user = certificate.created_by
        return user.get_username() if user is not None else None


class CertificateAuthorityOut(Schema):
    """dchweb's own CA: its certificate is public (clients need it), its key
    never leaves the database, and only encrypted there."""

    fingerprint: str
    cert_pem: str
    created_at: datetime


class BuildHostIn(Schema):
    endpoint_id: int
    registry_ids: list[int] | None = Field(
        None, description="registries the host must trust; omitted: all"
    )
    name: str = ""
    image: str = Field("", description="omitted: the endpoint's default image")
    disk_gb: int | None = None
    ttl_minutes: int | None = None
    volume_policy: str = Field(
        "delete", description='"delete", "keep" or "keep_days:N"'
    )


class ExtendIn(Schema):
    minutes: int = Field(60, ge=1)


class BuildHostStepOut(Schema):
    name: str
    attempt: int
    status: str
    started_at: datetime
    finished_at: datetime | None
    error: str
    reason: str
    detail: str


class BuildHostOut(Schema):
    id: str
    name: str
    owner: str
    endpoint_id: int
    image: str
    state: str
    step: str
    steps: list[BuildHostStepOut]
    docker_host: str
    expires_at: datetime
    volume_policy: str
    disk_gb: int
    volumes: list[str]
    registry_ids: list[int]
    error: str
    error_reason: str = Field(
        description="why it failed, one word: image_not_found, login_refused, "
        "unknown_authority, connection_refused, timeout, out_of_disk, "
        "host_exited, not_ready, missing..."
    )
    created_at: datetime
    ready_at: datetime | None

    @staticmethod
    def resolve_id(host):
        return str(host.pk)

    @staticmethod
    def resolve_owner(host):
        return host.owner.get_username()

    @staticmethod
    def resolve_steps(host):
        return list(host.steps.all())

    @staticmethod
    def resolve_volume_policy(host):
        return host.policy_label

    @staticmethod
    def resolve_volumes(host):
        return host.volume_names

    @staticmethod
    def resolve_registry_ids(host):
        return [registry.pk for registry in host.registries.all()]


class BuildOut(Schema):
    id: str
    owner: str
    state: str
    step: str
    build_host_id: str | None
    ephemeral: bool
    image_ref: str
    tags: list[str]
    push: bool
    dockerfile: str
    image_id: str
    digest: str
    error: str
    error_reason: str
    cancel_requested: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_id(build):
        return str(build.pk)

    @staticmethod
    def resolve_owner(build):
        return build.owner.get_username()

    @staticmethod
    def resolve_build_host_id(build):
        return str(build.build_host_id) if build.build_host_id else None


class DeploymentIn(Schema):
    endpoint_id: int
    image: str = Field(description="e.g. registry.test:5443/project/app@sha256:...")
    command: list[str] | str | None = None


class DeploymentOut(Schema):
    id: str
    owner: str
    endpoint_id: int
    image: str
    command: list[str]
    state: str
    container_id: str
    exit_code: int | None
    error: str
    error_reason: str
    output: str = Field("", description="the container's last output lines")
    created_at: datetime

    @staticmethod
    def resolve_id(deployment):
        return str(deployment.pk)

    @staticmethod
    def resolve_owner(deployment):
        return deployment.owner.get_username()

    @staticmethod
    def resolve_output(deployment):
        return getattr(deployment, "output", "")


class BuildHostImageIn(Schema):
    endpoint_id: int = Field(description="where the ephemeral build host runs")
    registry_ids: list[int] = Field(description="registries whose CAs to embed")
    registry_id: int | None = Field(None, description="push target; default the first")
    base_image: str = ""
    name: str = ""
    tag: str = ""


class BuildHostImageOut(Schema):
    id: int
    ref: str
    base_image: str
    digest: str
    state: str
    build_id: str | None
    registry_ids: list[int]
    created_at: datetime

    @staticmethod
    def resolve_build_id(image):
        return str(image.build_id) if image.build_id else None

    @staticmethod
    def resolve_registry_ids(image):
        return [registry.pk for registry in image.registries.all()]


class VolumeOut(Schema):
    endpoint_id: int
    endpoint: str
    name: str
    status: str
    managed: bool
    anonymous: bool
    owner: str
    build_host_id: str | None
    role: str
    attached_to: list[str]
    last_container: str
    last_image: str
    size_bytes: int | None
    size_measured_at: datetime | None
    created_on_engine: datetime | None
    first_seen: datetime
    last_seen: datetime
    last_attached: datetime | None
    detached_since: datetime | None

    @staticmethod
    def resolve_endpoint(volume):
        return volume.endpoint.name

    @staticmethod
    def resolve_owner(volume):
        return volume.owner_name

    @staticmethod
    def resolve_build_host_id(volume):
        return str(volume.build_host_id) if volume.build_host_id else None


class VolumeTotalOut(Schema):
    key: str
    volumes: int
    bytes: int | None


class VolumePage(Schema):
    count: int
    limit: int
    offset: int
    reclaimable_bytes: int
    by_owner: list[VolumeTotalOut]
    by_endpoint: list[VolumeTotalOut]
    items: list[VolumeOut]


class CleanupPlanIn(Schema):
    endpoint_id: int | None = None
    volume_names: list[str] | None = Field(
        None,
        description="named one by one: the only way to include volumes "
        "that are not dchweb's",
    )
    status: str = Field("", description="orphaned (default for a rule) or dangling")
    older_than_days: int | None = Field(None, ge=0, le=MAX_DAYS)
    owner: str = ""


class CleanupItemOut(Schema):
    endpoint_id: int
    volume_name: str
    reason: str
    size_bytes: int | None
    result: str
    detail: str


class CleanupPlanOut(Schema):
    id: int
    state: str
    rule: dict
    total_bytes: int
    reclaimed_bytes: int
    planned_by: str
    approved_by: str
    created_at: datetime
    executed_at: datetime | None
    finished_at: datetime | None
    items: list[CleanupItemOut]

    @staticmethod
    def resolve_planned_by(plan):
        return plan.planned_by.get_username() if plan.planned_by else ""

    @staticmethod
    def resolve_approved_by(plan):
        return plan.approved_by.get_username() if plan.approved_by else ""

    @staticmethod
    def resolve_items(plan):
        return list(plan.items.all())
