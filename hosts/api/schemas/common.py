"""What every router shares: the error shape and the list page's limits."""

from typing import Annotated

from ninja import Field, Schema

# The largest list offset asked for: beyond it the database's OFFSET (a
# 64-bit integer, plus the limit) overflows, and no list is that long. Log
# offsets have their own limit, hosts.builds.logs.MAX_LOG_OFFSET.
MAX_LIST_OFFSET = 2**62

# A row's id as a filter takes it: what the database's 64-bit key can hold.
# A larger number is a 400 here, not a 500 from the database driver.
RowId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class ErrorOut(Schema):
    error: str
    detail: str
    reasons: dict[str, str] | None = Field(
        None,
        description="only on some refusals: why not, thing by thing (409 "
        "nothing_fits: each endpoint's reason)",
    )


def errors(*statuses: int) -> dict:
    """The error answers an operation documents: `{400: ErrorOut, ...}`."""
    return dict.fromkeys(statuses, ErrorOut)
