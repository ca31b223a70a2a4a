from datetime import datetime
from typing import Literal

from ninja import Field, Schema

from hosts.buildhosts import pool


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
    idle_minutes: int | None = Field(
        description="its build hosts stop after this long without activity "
        "(0 = never); null: the installation's DCHWEB_IDLE_MINUTES"
    )
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
    pool_size: int = Field(
        description="build hosts kept ready here for whoever asks next (0: no pool)"
    )
    pool_ready: int = Field(
        description="free pool hosts ready now (every provisioning step passed)"
    )

    @staticmethod
    def resolve_pool_ready(endpoint):
        return pool.ready_count(endpoint)


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
    publish_host: str = Field(
        "",
        max_length=255,
        description="the address users reach published ports on; empty: the "
        "host of a tcp:// docker_url (required for a unix:// one)",
    )
    network: str = ""
    default_image: str = ""
    volume_store: str = "default"
    max_build_hosts: int = Field(10, ge=1, le=1000)
    idle_minutes: int | None = Field(
        None,
        description="minutes without activity before its build hosts stop "
        "(0 = never; a host may set its own); omitted: DCHWEB_IDLE_MINUTES",
    )


class EndpointPatch(Schema):
    """Only the settings given change (PATCH); the others stay."""

    name: str = Field(None, min_length=1, max_length=100)
    docker_url: str = Field(None, description="tcp://host:port or unix:///path")
    tls_mode: Literal["none", "tls", "tlsverify"] = None
    ca_certificate_id: int | None = None
    client_certificate_id: int | None = None
    publish_host: str = Field(None, max_length=255)
    network: str = None
    default_image: str = None
    volume_store: str = None
    max_build_hosts: int = Field(None, ge=1, le=1000)
    idle_minutes: int | None = Field(
        None, description="0 = never; null: the installation's DCHWEB_IDLE_MINUTES"
    )
    pool_size: int = Field(
        None,
        description="build hosts kept ready for whoever asks next, from 0 (no "
        "pool) to max_build_hosts; they count against the cap",
    )
