"""Where a new build host goes: the endpoint a request names, or the one
dchweb chooses; and on it, the owner's cache or a free pool host.

The choice prefers a warm host on the owner's cache (ready, and with their
images: pool.py), then the owner's cache, then a free pool host, then the
endpoint with the fewest running hosts (ties: the name), among the healthy
endpoints that trust the registries asked for and have room under their cap.
It is recorded on the host (`placement`), in words.

Trust is the trust matrix's last word (RegistryTrust). A pair nobody has
checked yet counts as trusting: a new endpoint or registry would otherwise
refuse every request until the periodic check runs, and the host's own
provisioning logs in to each registry before it is ready, so an engine that
cannot is still caught, on that host's page, rather than nowhere.
"""

from dataclasses import dataclass, field

from django.conf import settings

from hosts.buildhosts import pool
from hosts.models import BuildHost, Endpoint, RegistryTrust, Volume
from hosts.volumes import caches

NAMED = "named in the request"
ANY = "any endpoint"
_CACHE_THERE = "your build cache is there"
_WARM_THERE = "a host on your build cache was made ready ahead for you"
_POOL_THERE = "a ready host was waiting in its pool"
_CACHE_OVER_POOL = (
    "preferred over a ready pool host: the cache keeps your pulled images and "
    "build steps"
)

NO_ENDPOINT = (
    "there is no endpoint to run build hosts on yet: an admin adds one on the "
    "Endpoints page"
)


@dataclass
class Placement:
    endpoint: Endpoint
    # Why this endpoint, and what the host starts from, in words (recorded
    # on the host and shown).
    reason: str
    # The owner's newest free cache volume there, if any: preferred.
    cache: Volume | None = None
    # Free pool hosts there that fit the request, best first.
    pool_hosts: list[BuildHost] = field(default_factory=list)
    # The words for a host made anew after all: every pool host was taken
    # meanwhile, or the cache was.
    reason_if_new: str = ""

    def __post_init__(self):
        # Recorded on the host: as long as its column takes.
        most = BuildHost._meta.get_field("placement").max_length
        self.reason = self.reason[:most]
        self.reason_if_new = (self.reason_if_new or self.reason)[:most]


class NothingFits(Exception):
    """No endpoint can take the host: why not, endpoint by endpoint
    (`reasons`, {endpoint name: why}); `message` says it all in a sentence."""

    def __init__(self, reasons: dict[str, str]):
        self.reasons = reasons
        if reasons:
            said = "; ".join(f"{name}: {why}" for name, why in reasons.items())
            message = f"no endpoint can take this build host — {said}"
        else:
            message = NO_ENDPOINT
        super().__init__(message)
        self.message = message


def place(owner, wanted: dict) -> Placement:
    """The endpoint for `wanted` (commands._clean's answer) and what to start
    from there. `wanted["endpoint"]` None: dchweb chooses."""
    endpoint = wanted["endpoint"]
    if endpoint is not None:
        return _named(owner, endpoint, wanted)
    return _choose(owner, wanted)


# --- An endpoint the request names ---------------------------------------------


def _named(owner, endpoint, wanted) -> Placement:
    """The request's choice stands (commands checks its cap); on it, the
    owner's cache over a pool host, and the words say which and why."""
    theirs = caches.any_of(owner, endpoint)
    cache = caches.newest_free(owner, endpoint) if theirs else None
    warm = _warm_fitting(owner, endpoint, wanted) if theirs else []
    if warm:
        return Placement(
            endpoint,
            f"{NAMED}; {_WARM_THERE}",
            cache=cache,
            pool_hosts=warm,
            reason_if_new=f"{NAMED} (the host made ready on your cache was taken "
            "meanwhile)",
        )
    pool_hosts = _fitting(endpoint, wanted)
    if cache is not None:
        reason = f"{NAMED}; {_CACHE_THERE}"
        if pool_hosts:
            reason += f" ({_CACHE_OVER_POOL})"
        return Placement(endpoint, reason, cache=cache, reason_if_new=NAMED)
    if pool_hosts:
        return Placement(
            endpoint,
            f"{NAMED}; {_POOL_THERE}",
            pool_hosts=pool_hosts,
            reason_if_new=f"{NAMED} (its pool hosts were all taken meanwhile)",
        )
    return Placement(endpoint, NAMED)


# --- dchweb's choice --------------------------------------------------------------


@dataclass
class _Candidate:
    endpoint: Endpoint
    running: int
    cache: Volume | None
    pool_hosts: list[BuildHost]
    warm_hosts: list[BuildHost]
    # Free pool hosts there: one gives way when the cap is full.
    spare: int = 0

    @property
    def has_room(self) -> bool:
        giving_way = min(self.spare, 1)
        return self.running - giving_way < self.endpoint.max_build_hosts

    @property
    def count_words(self) -> str:
        return f"{self.running} of {self.endpoint.max_build_hosts}"


def _choose(owner, wanted) -> Placement:
    endpoints = list(Endpoint.objects.order_by("name"))
    if not endpoints:
        raise NothingFits({})
    refused, candidates = {}, []
    for endpoint in endpoints:
        why_not = _why_not(endpoint, wanted)
        if why_not:
            refused[endpoint.name] = why_not
            continue
        candidate = _candidate(owner, endpoint, wanted)
        if candidate.has_room or candidate.pool_hosts or candidate.warm_hosts:
            candidates.append(candidate)
        else:
            refused[endpoint.name] = (
                f"it runs {candidate.count_words} build hosts, its cap"
            )
    if not candidates:
        raise NothingFits(refused)
    return _best(candidates)


def _why_not(endpoint, wanted) -> str:
    """Why `endpoint` cannot take the host, in words; "" when it can."""
    health = _unhealthy(endpoint)
    if health:
        return health
    if not _image_for(endpoint, wanted):
        return "it has no default build-host image and the request names none"
    return _distrust(endpoint, wanted["registries"])


def _unhealthy(endpoint) -> str:
    if endpoint.health == Endpoint.Health.ON:
        return ""
    if endpoint.is_disabled:
        return "disabled by an admin"
    if endpoint.last_probe_at is None:
        return "not probed yet, so not known to answer"
    state = "off" if endpoint.health == Endpoint.Health.OFF else "not answering well"
    last = f" (last probe: {endpoint.last_error})" if endpoint.last_error else ""
    return f"its engine is {state}{last}"


def _distrust(endpoint, registries) -> str:
    """The registries asked for that the endpoint's engine could not log in
    to at the last check, in words; "" when none."""
    refused = RegistryTrust.objects.filter(
        endpoint=endpoint, registry__in=list(registries), ok=False
    ).select_related("registry")
    names = sorted(trust.registry.address for trust in refused)
    if not names:
        return ""
    return f"it cannot log in to {', '.join(names)} (the last trust check)"


def _image_for(endpoint, wanted) -> str:
    return wanted["image"] or endpoint.default_image or settings.DCHWEB_BUILD_HOST_IMAGE


def _fitting(endpoint, wanted) -> list[BuildHost]:
    return pool.fitting(endpoint, _image_for(endpoint, wanted), wanted["registries"])


def _warm_fitting(owner, endpoint, wanted) -> list[BuildHost]:
    image = _image_for(endpoint, wanted)
    return pool.warm_fitting(owner, endpoint, image, wanted["registries"])


def _candidate(owner, endpoint, wanted) -> _Candidate:
    running = BuildHost.objects.filter(
        endpoint=endpoint, state__in=BuildHost.ACTIVE_STATES
    ).count()
    theirs = caches.any_of(owner, endpoint)
    candidate = _Candidate(
        endpoint,
        running,
        cache=None,
        pool_hosts=_fitting(endpoint, wanted),
        warm_hosts=_warm_fitting(owner, endpoint, wanted) if theirs else [],
        spare=pool.spare_count(endpoint) if running >= endpoint.max_build_hosts else 0,
    )
    # A cache needs a new host, so a place under the cap; a pool host
    # already holds its place.
    if theirs and candidate.has_room:
        candidate.cache = caches.newest_free(owner, endpoint)
    return candidate


def _best(candidates: list[_Candidate]) -> Placement:
    """A warm host on the owner's cache, then their cache, then a pool host,
    then the fewest running hosts; within each, the fewest running hosts and
    then the name (the list is in name order and sorted() keeps it for
    ties)."""
    fewest = sorted(candidates, key=lambda c: c.running)
    with_warm = [c for c in fewest if c.warm_hosts]
    if with_warm:
        chosen = with_warm[0]
        return Placement(
            chosen.endpoint,
            f"{ANY}: {chosen.endpoint.name}, {_WARM_THERE}",
            cache=chosen.cache,
            pool_hosts=chosen.warm_hosts,
            reason_if_new=_cold_words(chosen, "the host ready on your cache was taken"),
        )
    with_cache = [c for c in fewest if c.cache is not None]
    with_pool = [c for c in fewest if c.pool_hosts]
    if with_cache:
        chosen = with_cache[0]
        reason = f"{ANY}: {chosen.endpoint.name}, where your build cache is"
        if with_pool:
            reason += f" ({_CACHE_OVER_POOL})"
        return Placement(
            chosen.endpoint,
            reason,
            cache=chosen.cache,
            reason_if_new=_cold_words(chosen, "your build cache there was taken"),
        )
    if with_pool:
        chosen = with_pool[0]
        return Placement(
            chosen.endpoint,
            f"{ANY}: {chosen.endpoint.name}, {_POOL_THERE}",
            pool_hosts=chosen.pool_hosts,
            reason_if_new=_cold_words(chosen, "its pool hosts were all taken"),
        )
    chosen = fewest[0]
    return Placement(
        chosen.endpoint,
        f"{ANY}: {chosen.endpoint.name}, fewest build hosts running "
        f"({chosen.count_words})",
    )


def _cold_words(chosen: _Candidate, what_happened: str) -> str:
    return (
        f"{ANY}: {chosen.endpoint.name} ({what_happened} meanwhile: "
        f"a new host is made there)"
    )
