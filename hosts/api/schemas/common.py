"""What every router shares: the error shape and the list page's limits."""

from ninja import Schema

# The largest list offset asked for: beyond it the database's OFFSET (a
# 64-bit integer, plus the limit) overflows, and no list is that long. Log
# offsets have their own limit, hosts.builds.logs.MAX_LOG_OFFSET.
MAX_LIST_OFFSET = 2**62


class ErrorOut(Schema):
    error: str
    detail: str


def errors(*statuses: int) -> dict:
    """The error answers an operation documents: `{400: ErrorOut, ...}`."""
    return dict.fromkeys(statuses, ErrorOut)
