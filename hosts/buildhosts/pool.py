"""The warm pool (issue 13): build hosts provisioned ahead, per endpoint, for
whoever asks next.

A pool host has the endpoint's default image and every registry it trusts,
belongs to nobody (owner None, from_pool) and counts against the endpoint's
cap. A request it fits claims it atomically; the periodic pass refills each
pool and recycles hosts that are too old or no longer fit the endpoint.
"""

from hosts.models import BuildHost


def fitting(endpoint, image: str, registries) -> list[BuildHost]:
    """Free, ready pool hosts on `endpoint` with `image` that trust at least
    `registries`, oldest first."""
    return []


def claim(owner, wanted: dict, candidates) -> BuildHost | None:
    """Take the first of `candidates` still free for `owner` with what
    `wanted` asks (name, time to live, volume policy...), atomically: never
    one host for two requests. None when every one was taken meanwhile."""
    return None


def refill(endpoint_id: int) -> int:
    """Provision pool hosts on the endpoint up to its pool_size (and recycle
    those too old or no longer fitting); returns how many were started."""
    return 0
