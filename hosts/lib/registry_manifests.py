"""A pushed image's manifest at its registry, through the Distribution API:
the digest it is served under and how much it stores (one GET), and
deleting it by digest (DELETE).

Plain data in and out, as hosts/lib/registry_check.py, whose session (the
registry's CA) and login (Basic, or a Bearer token from the realm the
registry names) this reuses. A delete says what the registry answered in a
`DeleteOutcome`; it raises nothing for a refusal."""

from dataclasses import dataclass

import requests

from hosts.lib import registry_check

# A request the person waits for (the delete button): short.
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class DeleteOutcome:
    """`deleted`: the registry no longer serves the manifest (it deleted it
    now, or had no such manifest: `reason` "gone"). Otherwise `reason` is
    "deletes_disabled", "denied", "unreachable" or "failed", and `message`
    says it in words."""

    deleted: bool
    reason: str
    message: str


@dataclass(frozen=True)
class ServedManifest:
    """What the registry serves for a reference: the manifest's digest, and
    the bytes it names (None when it does not say: an index names
    manifests, not layers)."""

    digest: str
    size_bytes: int | None


def served_manifest(
    address,
    repository,
    reference,
    ca_pem="",
    username="",
    password="",
    timeout=TIMEOUT_SECONDS,
) -> ServedManifest:
    """The manifest the registry serves for `repository:reference`, logged
    in as a client would: its digest and size from one GET (a push is
    verified and measured in one round trip); ManifestUnavailable if the
    registry does not serve it."""
    response = registry_check.manifest_answer(
        "GET", address, repository, reference, ca_pem, username, password, timeout
    )
    return ServedManifest(
        response.headers["Docker-Content-Digest"],
        _stored_bytes(_json_or_none(response)),
    )


def _json_or_none(response):
    try:
        return response.json()
    except ValueError:
        return None


def _stored_bytes(manifest) -> int | None:
    if not isinstance(manifest, dict):
        return None
    parts = [manifest.get("config"), *(manifest.get("layers") or [])]
    sizes = [part.get("size") for part in parts if isinstance(part, dict)]
    if not sizes or not all(isinstance(size, int) for size in sizes):
        return None  # an index (several platforms) names manifests, not layers
    return sum(sizes)


def delete_manifest(
    address,
    repository,
    digest,
    ca_pem="",
    username="",
    password="",
    timeout=TIMEOUT_SECONDS,
) -> DeleteOutcome:
    """DELETE the manifest `repository@digest`: every tag of that repository
    that points at it goes with it. The layers stay until the registry's
    garbage collection, which is the registry operator's to run."""
    url = f"https://{address}/v2/{repository}/manifests/{digest}"
    with registry_check.registry_session(ca_pem) as session:
        try:
            response = registry_check.logged_in(
                session,
                "DELETE",
                url,
                (repository, "delete"),
                username,
                password,
                timeout,
            )
        except requests.RequestException as error:
            checked = registry_check.classify(error)
            return DeleteOutcome(False, "unreachable", checked.message)
    return _outcome(response.status_code, address)


def _outcome(status, address) -> DeleteOutcome:
    if status in (200, 202):
        return DeleteOutcome(True, "deleted", "the registry deleted the manifest")
    if status == 404:
        return DeleteOutcome(
            True, "gone", "the registry no longer had it (deleted already)"
        )
    if status == 405:
        return DeleteOutcome(
            False,
            "deletes_disabled",
            f"the registry {address} does not allow deletes: its operator must "
            "enable them (for a Distribution registry, storage.delete.enabled "
            "or REGISTRY_STORAGE_DELETE_ENABLED=true)",
        )
    if status in (401, 403):
        return DeleteOutcome(
            False,
            "denied",
            f"the registry {address} refused the delete: the login dchweb uses "
            "for it may not delete images",
        )
    return DeleteOutcome(
        False, "failed", f"the registry {address} answered HTTP {status} to the delete"
    )
