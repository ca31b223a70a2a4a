"""Owners' build caches (issue 13): the data volume of a host removed with
volume policy "cache" stays, role "cache", for its owner's next host on the
same endpoint, one host at a time; a per-owner budget evicts the least
recently used."""

from hosts.models import Volume


def newest_free(owner, endpoint) -> Volume | None:
    """The owner's most recently used cache on `endpoint` no host uses now."""
    return None


def take(volume: Volume, host) -> bool:
    """Mark `volume` as used by `host`, unless another host took it first."""
    return False
