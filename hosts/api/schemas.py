from datetime import datetime

from ninja import Field, Schema


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


class RegistryOut(Schema):
    """No password, ever: only whether one is set."""

    id: int
    name: str
    address: str
    project: str
    username: str
    has_password: bool
    has_ca: bool

    @staticmethod
    def resolve_has_ca(registry) -> bool:
        return bool(registry.ca_pem)


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
