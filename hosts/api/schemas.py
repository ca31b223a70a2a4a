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
