"""Liveness of the parts dchweb depends on (/healthz), and the worker's
heartbeat that proves web → broker → worker → database."""

import logging
import socket

from django.conf import settings
from django.db import connection
from kombu import Connection

from hosts.core import audit
from hosts.models import AuditEvent

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


def record_heartbeat(note: str, hostname: str | None = None) -> AuditEvent:
    return audit.record(
        None,
        "worker.heartbeat",
        details={"note": note, "hostname": hostname or socket.gethostname()},
        source=AuditEvent.Source.TASK,
    )
