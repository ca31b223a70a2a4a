"""The plain JSON an event carries about its object (`Notification.object`,
a webhook body's "object"): what the API shows of it, plus the names a
person needs (the endpoint's, the owner's), a path to its page and one
`summary` line in words. Never a secret: no keys, passwords nor bundles."""

from hosts.lib import event_words


def _iso(moment):
    return moment.isoformat() if moment else None


def _with_summary(event: str, obj: dict) -> dict:
    obj["summary"] = event_words.describe(event, obj)
    return obj


def build_host(event: str, host) -> dict:
    endpoint = host.endpoint
    return _with_summary(
        event,
        {
            "id": str(host.pk),
            "name": host.name,
            "owner": host.owner.get_username(),
            "endpoint_id": host.endpoint_id,
            "endpoint": endpoint.name if endpoint else None,
            "state": host.state,
            "docker_host": host.docker_host or None,
            "expires_at": _iso(host.expires_at),
            "error": host.error or None,
            "url": f"/build-hosts/{host.pk}/",
        },
    )


def build(event: str, build) -> dict:
    return _with_summary(
        event,
        {
            "id": str(build.pk),
            "tag": build.image_ref or None,
            "image_ref": build.image_ref or None,
            "owner": build.owner.get_username(),
            "build_host_id": str(build.build_host_id) if build.build_host_id else None,
            "state": build.state,
            "digest": build.digest or None,
            "error": build.error or None,
            "url": f"/builds/{build.pk}/",
        },
    )


def endpoint(event: str, endpoint, error: str = "") -> dict:
    return _with_summary(
        event,
        {
            "id": endpoint.pk,
            "name": endpoint.name,
            "health": endpoint.health,
            "error": error or None,
            "url": "/endpoints/",
        },
    )


def registry_trust(event: str, endpoint, registry, message: str) -> dict:
    return _with_summary(
        event,
        {
            "id": registry.pk,
            "name": registry.name,
            "registry": registry.name,
            "address": registry.address,
            "endpoint_id": endpoint.pk,
            "endpoint": endpoint.name,
            "error": message or None,
            "url": "/registries/trust/",
        },
    )


def certificate(event: str, certificate, days_left: int) -> dict:
    return _with_summary(
        event,
        {
            "id": certificate.pk,
            "name": certificate.name,
            "kind": certificate.kind,
            "subject": certificate.subject,
            "fingerprint": certificate.fingerprint,
            "not_after": _iso(certificate.not_after),
            "days_left": days_left,
            "url": "/certificates/",
        },
    )
