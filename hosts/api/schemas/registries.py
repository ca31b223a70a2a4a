from datetime import datetime

from ninja import Field, Schema


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
