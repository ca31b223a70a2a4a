"""Run by a worker: can dchweb reach and log in to a registry (its check),
and can each endpoint's engine (the trust matrix, endpoint x registry)? One
result per registry, one RegistryTrust row per pair; a change of outcome is
audited."""

from django.db import transaction
from django.utils import timezone

from hosts import engine
from hosts.core import audit
from hosts.core.connections import connection_for
from hosts.lib import crypto, registry_check
from hosts.models import AuditEvent, Endpoint, Registry, RegistryTrust
from hosts.notifications import outbox, payloads

CHECK_TIMEOUT_SECONDS = 10


def check_registry(
    registry_id, actor=None, *, source=AuditEvent.Source.TASK, request=None
) -> Registry:
    """Check one registry now (dchweb → registry) and store the result; a
    change of result (ok ↔ failing, or another reason) is audited. The
    returned row carries the CheckResult as `check_result`."""
    registry = Registry.objects.get(pk=registry_id)
    try:
        password = registry.get_password()
    except crypto.SecretUnreadable as error:
        outcome = registry_check.CheckResult(False, "secret_unreadable", str(error))
    else:
        outcome = registry_check.check_registry(
            registry.address,
            registry.ca_pem,
            registry.username,
            password,
            timeout=CHECK_TIMEOUT_SECONDS,
        )
    with transaction.atomic():
        registry = Registry.objects.select_for_update().get(pk=registry_id)
        was = (registry.last_check_ok, registry.last_check_reason)
        registry.last_check_at = timezone.now()
        registry.last_check_ok = outcome.ok
        registry.last_check_reason = outcome.reason
        registry.last_check_error = "" if outcome.ok else outcome.message
        registry.save(
            update_fields=[
                "last_check_at",
                "last_check_ok",
                "last_check_reason",
                "last_check_error",
            ]
        )
        if was != (outcome.ok, outcome.reason):
            audit.record(
                actor,
                "registry.check_changed",
                registry,
                {"from": was[1] or None, "to": outcome.reason},
                source=source,
                request=request,
            )
    registry.check_result = outcome
    return registry


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


def check_unchecked() -> int:
    """What nobody has checked yet: registries never checked, and the pairs
    of the trust matrix with no row (a registry or an endpoint just added,
    a dashboard just started). Returns how many checks it made."""
    registries = list(Registry.objects.all())
    never = [registry for registry in registries if registry.last_check_at is None]
    for registry in never:
        check_registry(registry.pk)
    known = set(RegistryTrust.objects.values_list("endpoint_id", "registry_id"))
    endpoints = Endpoint.objects.select_related("ca_certificate", "client_certificate")
    missing = [
        (endpoint, registry)
        for endpoint in endpoints
        for registry in registries
        if (endpoint.pk, registry.pk) not in known
    ]
    for endpoint, registry in missing:
        _store_trust(endpoint, registry, _trust_of(endpoint, registry))
    return len(never) + len(missing)


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
        was_ok = not created and trust.ok
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
        # Lost, not "still failing": told once, when a working pair breaks.
        # A disabled endpoint is the admin's own doing, not news.
        if was_ok and not outcome.ok and outcome.reason != "endpoint_disabled":
            event = "registry.trust_lost"
            outbox.emit(
                event,
                payloads.registry_trust(event, endpoint, registry, outcome.message),
            )
