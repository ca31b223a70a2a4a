"""Where a new build host goes (issue 13): the endpoint a request names, or
the one dchweb chooses; and on it, the owner's cache or a free pool host.

The choice prefers the owner's cache, then a free pool host, then the
endpoint with the fewest running hosts, among the healthy endpoints that
trust the registries asked for and have room under their cap. It is recorded
on the host (`placement`), in words.
"""

from dataclasses import dataclass, field

from hosts.buildhosts import pool
from hosts.models import BuildHost, Endpoint, Volume
from hosts.volumes import caches

NAMED = "named in the request"


@dataclass
class Placement:
    endpoint: Endpoint
    # Why this endpoint, in words (recorded on the host and shown).
    reason: str
    # The owner's newest free cache volume there, if any: preferred.
    cache: Volume | None = None
    # Free pool hosts there that fit the request, best first.
    pool_hosts: list[BuildHost] = field(default_factory=list)


class NothingFits(Exception):
    """No endpoint can take the host: why not, endpoint by endpoint."""

    def __init__(self, reasons: dict[str, str]):
        self.reasons = reasons
        said = "; ".join(f"{name}: {why}" for name, why in reasons.items())
        super().__init__(f"no endpoint can take this build host ({said})")
        self.message = str(self)


def place(owner, wanted: dict) -> Placement:
    """The endpoint for `wanted` (commands._clean's answer) and what to start
    from there. `wanted["endpoint"]` None: dchweb chooses."""
    endpoint = wanted["endpoint"]
    if endpoint is None:
        raise NothingFits({"": "choose an endpoint"})
    return _on(owner, endpoint, wanted, NAMED)


def _on(owner, endpoint, wanted, reason) -> Placement:
    cache = caches.newest_free(owner, endpoint)
    if cache is not None:
        return Placement(endpoint, reason, cache=cache)
    return Placement(
        endpoint,
        reason,
        pool_hosts=pool.fitting(endpoint, wanted["image"], wanted["registries"]),
    )
