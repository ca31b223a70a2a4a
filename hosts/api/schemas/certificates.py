from datetime import datetime

from ninja import Field, Schema


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
