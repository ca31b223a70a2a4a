"""The trust matrix (endpoint x registry), run by a worker: can each
endpoint's engine log in to each registry? One RegistryTrust row per pair; a
change of outcome is audited."""

from django.db import transaction
from django.utils import timezone

from hosts import engine
from hosts.core import audit
from hosts.core.connections import connection_for
from hosts.lib import crypto
from hosts.models import AuditEvent, Endpoint, Registry, RegistryTrust


def check_trust_all() -> int:
    """For every endpoint and registry: can the endpoint's engine log in to the
    registry? Stores one RegistryTrust row per pair; returns how many."""
    endpoints = list(
        Endpoint.objects.select_related("ca_certificate", "client_certificate")
    )
    registries = list(Registry.objects.all())
    for endpoint in endpoints:
        for registry in registries:
            _store_trust(endpoint, registry, _trust_of(endpoint, registry))
    return len(endpoints) * len(registries)


def _trust_of(endpoint, registry):
    if endpoint.is_disabled:
        return engine.RegistryLoginResult(
            False, "endpoint_disabled", "the endpoint is disabled: not checked"
        )
    try:
        return engine.registry_login(
            connection_for(endpoint),
            registry.address,
            registry.username,
            registry.get_password(),
        )
    except engine.EngineError as error:
        return engine.RegistryLoginResult(
            False, "endpoint_unreachable", f"the endpoint did not answer: {error}"
        )
    except crypto.SecretUnreadable as error:
        return engine.RegistryLoginResult(False, "secret_unreadable", str(error))


def _store_trust(endpoint, registry, outcome):
    with transaction.atomic():
        trust, created = RegistryTrust.objects.select_for_update().get_or_create(
            endpoint=endpoint,
            registry=registry,
            defaults={"ok": outcome.ok, "reason": outcome.reason},
        )
        was = None if created else trust.reason
        trust.ok = outcome.ok
        trust.reason = outcome.reason
        trust.message = "" if outcome.ok else outcome.message
        trust.checked_at = timezone.now()
        trust.save()
        if was != outcome.reason:
            audit.record(
                None,
                "registry.trust_changed",
                registry,
                {"endpoint": endpoint.name, "from": was, "to": outcome.reason},
                source=AuditEvent.Source.TASK,
            )
