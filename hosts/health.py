"""Liveness of the parts dchweb depends on, for /healthz, and the figures
for /metrics."""

import logging

from django.conf import settings
from django.db import connection
from kombu import Connection

from hosts import services
from hosts.models import ApiToken, AuditEvent, Registry

logger = logging.getLogger(__name__)

BROKER_TIMEOUT_SECONDS = 2


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        logger.warning("health: database check failed: %s", error)
        return f"error: {error}"
    return "ok"


def check_broker() -> str:
    """PING the broker over a fresh connection that gives up after ~2 s."""
    try:
        with Connection(
            settings.CELERY_BROKER_URL,
            connect_timeout=BROKER_TIMEOUT_SECONDS,
            transport_options={
                "socket_timeout": BROKER_TIMEOUT_SECONDS,
                "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
                "max_retries": 0,
            },
        ) as broker:
            broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
            client = getattr(broker.default_channel, "client", None)
            if client is not None and hasattr(client, "ping"):
                client.ping()
    except Exception as error:
        logger.warning("health: broker check failed: %s", error)
        return f"error: {error}"
    return "ok"


def metrics_text() -> str:
    """Prometheus text exposition, version 0.0.4."""
    lines = []

    def gauge(name, help_text, samples):
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        for labels, value in samples:
            label_text = ",".join(f'{key}="{val}"' for key, val in labels.items())
            lines.append(
                f"{name}{{{label_text}}} {value}" if label_text else f"{name} {value}"
            )

    gauge(
        "dchweb_endpoints",
        "Endpoints by health.",
        [
            ({"health": health}, n)
            for health, n in services.endpoint_health_counts().items()
        ],
    )
    gauge(
        "dchweb_registries", "Registered registries.", [({}, Registry.objects.count())]
    )
    gauge(
        "dchweb_build_hosts",
        "Build hosts by state.",
        [
            ({"state": state}, n)
            for state, n in services.build_host_state_counts().items()
        ],
    )
    gauge(
        "dchweb_api_tokens_active",
        "API tokens not revoked.",
        [({}, ApiToken.objects.filter(revoked_at__isnull=True).count())],
    )
    gauge(
        "dchweb_audit_events",
        "Audit events recorded.",
        [({}, AuditEvent.objects.count())],
    )
    return "\n".join(lines) + "\n"
