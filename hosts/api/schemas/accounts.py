from datetime import datetime
from typing import Literal

from ninja import Field, Schema

from hosts.models import ApiToken


class MeOut(Schema):
    username: str
    is_admin: bool
    groups: list[str]


class ApiTokenIn(Schema):
    """The checks (name length, the days' range) are the command's:
    hosts/accounts/commands.py create_api_token."""

    name: str = Field(description="a label, to tell your tokens apart")
    scope: ApiToken.Scope = Field(description="read: GET only; write: everything")
    expires_days: int | None = Field(
        None,
        description="days until it expires: default 90, at most the maximum "
        "an admin set (DCHWEB_API_TOKEN_MAX_DAYS, default 365)",
    )
    expires_at: datetime | None = Field(
        None,
        description="or the moment it expires (ISO 8601, within the same "
        "maximum); give one of expires_days and expires_at",
    )


class ApiTokenOut(Schema):
    id: int
    name: str
    prefix: str = Field(description="the token's public first part: dchw_<prefix>_…")
    scope: str
    created_at: datetime
    expires_at: datetime | None = Field(
        description="null only for tokens made before tokens expired"
    )
    last_used_at: datetime | None = Field(description="to the minute; null: never used")
    revoked: bool
    state: Literal["active", "expired", "revoked"] = Field(
        description="what the token does now: active opens the API"
    )

    @staticmethod
    def resolve_revoked(api_token) -> bool:
        return api_token.revoked_at is not None


class ApiTokenCreatedOut(ApiTokenOut):
    token: str = Field(description="the secret: shown this once, stored only as a hash")
